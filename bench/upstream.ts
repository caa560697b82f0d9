// A fast OpenAI-compatible upstream for benchmarks (its own process): a fixed JSON answer, or a
// 20-chunk SSE stream written without pauses, so what is measured is the proxy, not the model.
// Path prefixes script the other shapes the benchmarks need:
//   /slow/<interval ms>/<chunks>/v1/…  a stream of <chunks> chunks, one every <interval ms>
//   /cut/v1/…                          a stream cut (socket destroyed) after half its chunks
//   /v1/traces                         an OTLP/HTTP receiver that accepts and drops spans
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export const STREAM_CHUNKS = 20
const created = 1726012687
const completion = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created, model: 'bench-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the benchmark upstream.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
})
const frame = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'bench-model', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`
const usageFrame = `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'bench-model', choices: [], usage: { prompt_tokens: 9, completion_tokens: 18, total_tokens: 27 } })}\n\n`

function frames(chunks: number, withUsage: boolean): string[] {
  const out = [frame({ role: 'assistant', content: '' })]
  for (let i = 0; i < chunks - 2; i++) out.push(frame({ content: `token${i} ` }))
  out.push(frame({}, 'stop'))
  if (withUsage) out.push(usageFrame)
  out.push('data: [DONE]\n\n')
  return out
}
const fastFrames = frames(STREAM_CHUNKS, false)
const fastFramesWithUsage = frames(STREAM_CHUNKS, true)

const server = http.createServer((req, res) => {
  const url = req.url ?? '/'
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
