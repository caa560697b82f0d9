// A fast OpenAI-compatible upstream for benchmarks (its own process): a fixed JSON answer, or a
// 20-chunk SSE stream written without pauses, so what is measured is the proxy, not the model.
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
const frames = [frame({ role: 'assistant', content: '' })]
for (let i = 0; i < STREAM_CHUNKS - 2; i++) frames.push(frame({ content: `token${i} ` }))
frames.push(frame({}, 'stop'), 'data: [DONE]\n\n')

const server = http.createServer((req, res) => {
  if (req.url === '/v1/models') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'bench-model', object: 'model', created, owned_by: 'bench' }] }))
  }
  const chunks: Buffer[] = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const stream = Buffer.concat(chunks).includes('"stream":true')
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(completion)
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    for (const f of frames) res.write(f)
    res.end()
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }))
