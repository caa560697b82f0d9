// The plugin floor: the framework floor (bench/fastify-proxy.ts) plus the maintained libraries
// every tiergate request goes through, configured as tiergate configures them, and none of
// tiergate's own hooks, routing or providers: Fastify with tiergate's server options (pino at warn with its redaction
// paths, its request ids, ajv with tiergate's options), the route's own body schema
// (routes/v1/schemas.ts), tiergate's own CORS and security-headers plugins (plugins/cors.ts,
// plugins/security-headers.ts), @fastify/rate-limit with a budget nobody reaches (as `npm run
// bench` runs tiergate; tiergate's plugin needs its auth, Redis and event bus), prom-client's
// request counter and duration histogram (tiergate's buckets) in onResponse, and a stream written to the socket as
// `sendSse` writes it. Its distance from the bare proxy is what the stack tiergate is built
// on costs before tiergate routes anything: the lower bound of any gateway on these libraries.
import Fastify from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { pino } from 'pino'
import { Counter, Histogram, Registry } from 'prom-client'
import { Pool } from 'undici'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { ChatCompletionRequest } from '../routes/v1/schemas.ts'
import cors from '../plugins/cors.ts'
import securityHeaders, { applySecurityHeaders } from '../plugins/security-headers.ts'
import { requestIdOf } from '../plugins/request-context.ts'
import { REQUEST_BUCKETS_S } from '../plugins/metrics.ts'
import { createRedactor, logRedaction } from '../plugins/redact.ts'
import type { Config } from '../config.ts'

const upstream = new Pool(process.env.UPSTREAM_ORIGIN!, { connections: 2_048, keepAliveTimeout: 60_000 })
// Logs go nowhere (the bench discards the gateway's output too); at warn nothing is written.
const logger = pino({ level: 'warn', ...logRedaction(createRedactor([])) }, new Writable({ write: (_c, _e, done) => done() }))
const app = Fastify({
  loggerInstance: logger,
  keepAliveTimeout: 60_000,
  genReqId: requestIdOf,
  return503OnClosing: true,
  ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
})
app.setSerializerCompiler(() => (data) => JSON.stringify(data))
// CORS_ORIGINS unset, as the bench runs tiergate: `*`.
app.decorate('config', { corsOrigins: [] } as unknown as Config)
await app.register(cors)
await app.register(securityHeaders)
await app.register(rateLimit, { global: true, max: 1_000_000_000, timeWindow: 60_000, keyGenerator: (request) => `ip:${request.ip}` })

const registry = new Registry()
const requests = new Counter({ name: 'http_requests_total', help: 'requests', labelNames: ['route', 'method', 'status'], registers: [registry] })
const duration = new Histogram({ name: 'http_request_duration_seconds', help: 'duration', labelNames: ['route', 'method'], buckets: REQUEST_BUCKETS_S, registers: [registry] })
app.addHook('onResponse', (request, reply, done) => {
  const route = request.routeOptions.url ?? 'unmatched'
  requests.inc({ route, method: request.method, status: String(reply.statusCode) })
  duration.observe({ route, method: request.method }, reply.elapsedTime / 1000)
  done()
})

app.post('/v1/chat/completions', { schema: { body: ChatCompletionRequest } }, async (request, reply) => {
  const answer = await upstream.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request.body) })
  const contentType = String(answer.headers['content-type'])
  if (!contentType.startsWith('text/event-stream')) {
    reply.code(answer.statusCode).header('content-type', contentType)
    return reply.send(await answer.body.text())
  }
  // As sendSse: the headers in one writeHead, each read written straight to the socket.
  reply.header('content-type', contentType)
  applySecurityHeaders(reply)
  reply.hijack()
  reply.raw.writeHead(answer.statusCode, reply.getHeaders() as Record<string, string>)
  for await (const chunk of answer.body) reply.raw.write(chunk)
  reply.raw.end()
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('SIGINT', () => process.exit(0))
