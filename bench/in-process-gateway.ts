// The gateway without an HTTP server in front, for bench/in-process.ts and bench/allocations.ts:
// the mock upstream in its own process, the app built as `node server.ts` builds it (one
// OpenAI-compatible provider, rate limiting off), and one call as the chat route makes it —
// app.chat and, for a stream, the SSE body read to its end.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../config.ts'
import { buildServer } from '../server.ts'
import { sseBody } from '../dialects/sse-body.ts'
import { openAIChatEncoder } from '../dialects/openai-chat/stream.ts'
import type { ChatRequest } from '../providers/contract.ts'

export interface InProcessGateway {
  app: FastifyInstance
  /** The mock upstream's port (bench/upstream.ts). */
  upstreamPort: number
  /** One chat call, read to its end. */
  call(): Promise<void>
  close(): Promise<void>
}

export async function startInProcessGateway(stream: boolean): Promise<InProcessGateway> {
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
  async function call(): Promise<void> {
    const request: ChatRequest = { model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] }
    const routed = await app.chat(request, { signal: new AbortController().signal, log: app.log, requestId: String(++requestId) })
    if (!routed.stream) return void JSON.stringify(routed.value)
    for await (const _bytes of sseBody(routed.value, openAIChatEncoder(routed.provider), noRedaction)) { /* what the socket would get */ }
  }
  return {
    app,
    upstreamPort: port,
    call,
    close: async () => {
      await app.close()
      upstream.kill()
    },
  }
}

/** Calls `call` `concurrency` at a time, each as soon as the one before it ends, for `ms`; how many ended. */
export async function callsFor(call: () => Promise<void>, ms: number, concurrency: number): Promise<number> {
  let calls = 0
  const until = Date.now() + ms
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) {
      await call()
      calls++
    }
  }))
  return calls
}
