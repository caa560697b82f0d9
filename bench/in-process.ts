// node bench/in-process.ts [stream|json] [seconds] — the gateway's own work per request without
// an HTTP server in front: app.chat (pipeline → router → provider → undici to the mock upstream)
// and, for a stream, the SSE body the route would write, 50 calls at a time; CPU µs per call
// (process.cpuUsage, median of 5 rounds with the range). Set beside `npm run bench`'s figures it
// splits tiergate's cost into the framework's part (Fastify, hooks) and its own.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import { loadConfig } from '../config.ts'
import { buildServer } from '../server.ts'
import { sseBody } from '../dialects/sse-body.ts'
import { openAIChatEncoder } from '../dialects/openai-chat/stream.ts'
import type { ChatRequest } from '../providers/contract.ts'

const stream = (process.argv[2] ?? 'stream') === 'stream'
const seconds = Number(process.argv[3] ?? 3)
const CONCURRENCY = 50
const ROUNDS = 5

const upstream = fork(new URL('./upstream.ts', import.meta.url).pathname, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
const [{ port }] = (await once(upstream, 'message')) as [{ port: number }]
const config = loadConfig({
  CUSTOM_PROVIDERS: 'bench', BENCH_BASE_URL: `http://127.0.0.1:${port}/v1`, BENCH_MODELS: 'bench-model',
  PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations,local', MODELS_REFRESH_MS: '0', LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '0',
})
const app = await buildServer(config, { logStream: new Writable({ write: (_chunk, _encoding, done) => done() }) as never })
await app.ready()
const noRedaction = (text: string) => text

let requestId = 0
async function oneRequest(): Promise<void> {
  const request: ChatRequest = { model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] }
  const routed = await app.chat(request, { signal: new AbortController().signal, log: app.log, requestId: String(++requestId) })
  if (!routed.stream) return void JSON.stringify(routed.value)
  for await (const _bytes of sseBody(routed.value, openAIChatEncoder(routed.provider), noRedaction)) { /* what the socket would get */ }
}

async function run(ms: number): Promise<number> {
  let calls = 0
  const until = Date.now() + ms
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < until) {
      await oneRequest()
      calls++
    }
  }))
  return calls
}

await run(2000) // warm-up: JIT, pools
const perCall: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  const before = process.cpuUsage()
  const calls = await run(seconds * 1000)
  const used = process.cpuUsage(before)
  perCall.push((used.user + used.system) / calls)
}
perCall.sort((a, b) => a - b)
console.log(`in-process ${stream ? 'stream (20 chunks)' : 'non-stream'}: ${perCall[2].toFixed(1)} µs CPU per call (${perCall[0].toFixed(1)}–${perCall[4].toFixed(1)}), ${CONCURRENCY} at a time`)
await app.close()
upstream.kill()
