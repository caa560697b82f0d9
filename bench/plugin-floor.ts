// The plugin floor: the framework floor (bench/fastify-proxy.ts) plus the maintained libraries
// every tiergate request goes through, configured as tiergate configures them, and none of
// tiergate's own code: Fastify with tiergate's server options (pino at warn with its redaction
// paths, a request id per request, ajv with tiergate's options), the route's own body schema
// (routes/v1/schemas.ts), @fastify/cors and @fastify/rate-limit with tiergate's settings and a
// budget nobody reaches (as `npm run bench` runs tiergate), prom-client's request counter and
// duration histogram in onResponse, nosniff on every answer, and a stream written to the socket
// as `sendSse` writes it. Its distance from the bare proxy is what the stack tiergate is built
// on costs before tiergate routes anything: the lower bound of any gateway on these libraries.
import Fastify from 'fastify'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import { pino } from 'pino'
import { Counter, Histogram, Registry } from 'prom-client'
import { Pool } from 'undici'
import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { ChatCompletionRequest } from '../routes/v1/schemas.ts'
import { EXPOSED_HEADERS } from '../plugins/cors.ts'
import { createRedactor, logRedaction } from '../plugins/redact.ts'

const upstream = new Pool(process.env.UPSTREAM_ORIGIN!, { connections: 2_048, keepAliveTimeout: 60_000 })
// Logs go nowhere (the bench discards the gateway's output too); at warn nothing is written.
const logger = pino({ level: 'warn', ...logRedaction(createRedactor([])) }, new Writable({ write: (_c, _e, done) => done() }))
const app = Fastify({
  loggerInstance: logger,
  keepAliveTimeout: 60_000,
  genReqId: (req) => (typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID()),
  return503OnClosing: true,
  ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
})
app.setSerializerCompiler(() => (data) => JSON.stringify(data))
await app.register(cors, { origin: '*', methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], exposedHeaders: EXPOSED_HEADERS.join(', '), maxAge: 600 })
await app.register(rateLimit, { global: true, max: 1_000_000_000, timeWindow: 60_000, keyGenerator: (request) => `ip:${request.ip}` })

const registry = new Registry()
const requests = new Counter({ name: 'http_requests_total', help: 'requests', labelNames: ['route', 'method', 'status'], registers: [registry] })
const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'duration', labelNames: ['route', 'method'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [registry] })
app.addHook('onResponse', (request, reply, done) => {
  const route = request.routeOptions.url ?? 'unmatched'
  requests.inc({ route, method: request.method, status: String(reply.statusCode) })
  duration.observe({ route, method: request.method }, reply.elapsedTime / 1000)
  done()
})
app.addHook('onSend', (_request, reply, payload, done) => {
  reply.header('x-content-type-options', 'nosniff')
  done(null, payload)
})

app.post('/v1/chat/completions', { schema: { body: ChatCompletionRequest } }, async (request, reply) => {
  const answer = await upstream.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request.body) })
  const contentType = String(answer.headers['content-type'])
  if (!contentType.startsWith('text/event-stream')) {
    reply.code(answer.statusCode).header('content-type', contentType)
    return reply.send(await answer.body.text())
  }
  // As sendSse: the headers in one writeHead, each read written straight to the socket.
  reply.header('content-type', contentType).header('x-content-type-options', 'nosniff')
  reply.hijack()
  reply.raw.writeHead(answer.statusCode, reply.getHeaders() as Record<string, string>)
  for await (const chunk of answer.body) reply.raw.write(chunk)
  reply.raw.end()
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('SIGINT', () => process.exit(0))
