// The framework floor: Fastify 5 (tiergate's framework) with one route that passes the body to
// an undici Pool and the answer back — no hooks, validation, routing or logging. Its distance
// from the bare proxy is what the framework alone costs; tiergate's distance from it is tiergate's.
import Fastify from 'fastify'
import { Pool } from 'undici'
import type { AddressInfo } from 'node:net'

const upstream = new Pool(process.env.UPSTREAM_ORIGIN!, { connections: 2_048, keepAliveTimeout: 60_000 })
const app = Fastify({ logger: false, keepAliveTimeout: 60_000 })
app.post('/v1/chat/completions', async (request, reply) => {
  const answer = await upstream.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request.body) })
  reply.code(answer.statusCode).header('content-type', String(answer.headers['content-type']))
  return reply.send(answer.body)
})
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
process.on('SIGINT', () => process.exit(0))
