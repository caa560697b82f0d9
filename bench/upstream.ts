// A fast OpenAI-compatible upstream for benchmarks (its own process): a fixed JSON answer, or a
// 20-chunk SSE stream written without pauses, so what is measured is the proxy, not the model.
// Path prefixes script the other shapes the benchmarks need:
//   /slow/<interval ms>/<chunks>/v1/…  a stream of <chunks> chunks, one every <interval ms>
//   /cut/v1/…                          a stream cut (socket destroyed) after half its chunks
//   /v1/traces                         an OTLP/HTTP receiver that accepts and drops spans
// and the other upstream dialects tiergate speaks, each with the same 20-chunk answer:
//   /api/chat, /api/tags, /api/version Ollama's native API (NDJSON stream)
//   /v1/messages                       Anthropic's Messages API (SSE with named events)
import http from 'node:http'
import type { AddressInfo } from 'node:net'

import { CREATED as created, STREAM_CHUNKS, openAIFrames as frames } from './lib/openai-frames.ts'

const completion = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created, model: 'bench-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the benchmark upstream.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
})

// Ollama's native /api/chat (../shared/PROTOCOLS.md §1): one NDJSON line per token, then the done line.
const ollamaAt = '2025-10-26T17:15:24.097767Z'
const ollamaLine = (content: string) => `${JSON.stringify({ model: 'bench-model', created_at: ollamaAt, message: { role: 'assistant', content }, done: false })}\n`
const ollamaDone = { model: 'bench-model', created_at: ollamaAt, done: true, done_reason: 'stop', total_duration: 4883583458, load_duration: 1334875, prompt_eval_count: 9, prompt_eval_duration: 342546000, eval_count: 18, eval_duration: 4535599000 }
const ollamaStream = [
  ...Array.from({ length: STREAM_CHUNKS - 1 }, (_, i) => ollamaLine(`token${i} `)),
  `${JSON.stringify({ ...ollamaDone, message: { role: 'assistant', content: '' } })}\n`,
].join('')
const ollamaAnswer = JSON.stringify({ ...ollamaDone, message: { role: 'assistant', content: 'Hello from the benchmark upstream.' } })

// Anthropic's Messages API (PROTOCOLS.md §3): message_start, one text block of 18 deltas, message_delta, message_stop.
const anthropicEvent = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
const anthropicMessage = { id: 'msg_bench', type: 'message', role: 'assistant', model: 'bench-model', stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } }
const anthropicStream = [
  anthropicEvent('message_start', { message: { ...anthropicMessage, content: [] } }),
  anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  ...Array.from({ length: STREAM_CHUNKS - 2 }, (_, i) => anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: `token${i} ` } })),
  anthropicEvent('content_block_stop', { index: 0 }),
  anthropicEvent('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 18 } }),
  anthropicEvent('message_stop', {}),
].join('')
const anthropicAnswer = JSON.stringify({ ...anthropicMessage, content: [{ type: 'text', text: 'Hello from the benchmark upstream.' }], stop_reason: 'end_turn', usage: { input_tokens: 9, output_tokens: 7 } })

const fastFrames = frames(STREAM_CHUNKS, false)
const fastFramesWithUsage = frames(STREAM_CHUNKS, true)

const server = http.createServer((req, res) => {
  const url = req.url ?? '/'
  if (url === '/api/tags') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return void res.end(JSON.stringify({ models: [{ name: 'bench-model', model: 'bench-model' }] }))
  }
  if (url === '/api/version') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return void res.end('{"version":"0.12.0"}')
  }
  if (url.endsWith('/models')) {
    res.writeHead(200, { 'content-type': 'application/json' })
    return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'bench-model', object: 'model', created, owned_by: 'bench' }] }))
  }
  const chunks: Buffer[] = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    if (url === '/v1/traces') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end('{}')
    }
    const body = Buffer.concat(chunks)
    const stream = body.includes('"stream":true')
    if (url === '/api/chat') {
      // Ollama streams unless told not to.
      const ndjson = !body.includes('"stream":false')
      res.writeHead(200, { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' })
      return void res.end(ndjson ? ollamaStream : ollamaAnswer)
    }
    if (url.endsWith('/v1/messages')) {
      res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json', 'request-id': 'req_bench' })
      return void res.end(stream ? anthropicStream : anthropicAnswer)
    }
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(completion)
    }
    const withUsage = body.includes('"include_usage":true')
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    const slow = /^\/slow\/(\d+)\/(\d+)\//.exec(url)
    if (slow) return void writeSlowly(res, frames(Number(slow[2]), withUsage), Number(slow[1]))
    if (url.startsWith('/cut/')) {
      const all = withUsage ? fastFramesWithUsage : fastFrames
      for (const f of all.slice(0, all.length / 2)) res.write(f)
      return void setImmediate(() => res.socket?.destroy())
    }
    for (const f of withUsage ? fastFramesWithUsage : fastFrames) res.write(f)
    res.end()
  })
})

function writeSlowly(res: http.ServerResponse, all: string[], intervalMs: number): void {
  let next = 0
  const timer = setInterval(() => {
    if (res.destroyed) return void clearInterval(timer)
    res.write(all[next++])
    if (next === all.length) {
      clearInterval(timer)
      res.end()
    }
  }, intervalMs)
  res.on('close', () => clearInterval(timer))
}

server.keepAliveTimeout = 60_000
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo
  // Forked by a benchmark: the port goes over IPC; run by hand (profiling), it is printed.
  if (process.send) process.send({ port })
  else console.log(`bench upstream on http://127.0.0.1:${port}`)
})
