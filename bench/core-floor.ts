// The core floor: tiergate built exactly as server.ts builds it (the same configuration from the
// environment, every plugin registered), but POST /v1/chat/completions is answered by a bare
// node:http handler that hands the parsed body straight to `app.chat` (pipeline → router →
// provider → undici) and writes the answer as the route would (JSON, or SSE through the same
// pump as `sendSse`). No Fastify routing, hooks, validation, auth, rate limiting, metrics or
// logging on that route. Its distance from the bare proxy is what tiergate's core costs with no
// framework at all: the lowest any hand-rolled hot route that keeps the core could reach. Every
// other request (the bench's /health poll) goes to Fastify as usual.
// Started like the gateway (bench/lib/procs.ts startGateway with this script), never in a test.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { buildServer } from '../server.ts'
import { loadConfig } from '../config.ts'
import { decodeChatRequest } from '../dialects/openai-chat/request.ts'
import { openAIChatEncoder } from '../dialects/openai-chat/stream.ts'
import { SSE_HEADERS, writeSse } from '../dialects/sse-body.ts'
import { createRedactor } from '../plugins/redact.ts'
import { requestIdOf } from '../plugins/request-context.ts'
import type { ChatRequest } from '../providers/contract.ts'

const config = loadConfig(process.env)
const app = await buildServer(config)
await app.ready()
const redact = createRedactor(config.secrets)

/**
 * The body, refused past BODY_LIMIT_BYTES as the Fastify route refuses it: 413, and the rest
 * is discarded, not kept (the answer closes the connection).
 */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let size = 0
    const onData = (part: Buffer) => {
      size += part.length
      if (size <= config.bodyLimitBytes) return void parts.push(part)
      req.off('data', onData).resume()
      reject(Object.assign(new Error(`the body is larger than ${config.bodyLimitBytes} bytes (BODY_LIMIT_BYTES)`), { statusCode: 413 }))
    }
    req.on('data', onData).on('end', () => resolve(Buffer.concat(parts).toString('utf8'))).on('error', reject)
  })
}

async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = requestIdOf(req)
  const { request } = decodeChatRequest(JSON.parse(await readBody(req)) as ChatRequest)
  const controller = new AbortController()
  res.on('close', () => {
    if (!res.writableFinished) controller.abort()
  })
  const routed = await app.chat(request, { signal: controller.signal, log: app.log, requestId })
  const headers: Record<string, string> = {
    'x-request-id': requestId,
    'x-content-type-options': 'nosniff',
    'x-tiergate-provider': routed.provider,
    'x-tiergate-tier': String(routed.tier),
    'x-tiergate-attempts': String(routed.attempts),
  }
  if (routed.stream) return writeSse(res, 200, { ...headers, ...SSE_HEADERS }, routed.value, openAIChatEncoder(routed.provider), redact)
  const text = JSON.stringify(routed.value)
  res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) })
  res.end(text)
}

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return app.routing(req, res)
  chat(req, res).catch((err: Error & { statusCode?: number }) => {
    // The load generator's last requests are cut when a round ends: nothing to answer then.
    if (res.headersSent || res.destroyed) return void res.destroy()
    // An error's message may quote an upstream: redacted, as the gateway's error envelope is.
    res.writeHead(err.statusCode ?? 500, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error: { message: redact(err.message) } }))
  })
})
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port })
})
const exit = () => void app.close().finally(() => process.exit(0))
process.once('SIGTERM', exit)
process.once('SIGINT', exit)
