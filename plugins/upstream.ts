// Decorates `app.upstream`: the UpstreamHttp client (one undici Pool per upstream origin)
// that every provider adapter sends through, with the read caps from config
// (UPSTREAM_MAX_EVENT_BYTES, UPSTREAM_MAX_BODY_BYTES, UPSTREAM_MAX_STREAM_BYTES, MAX_KEY_COOLDOWN_MS). Closes every pool
// when the app closes.
import fp from 'fastify-plugin'
import { UpstreamHttp } from '../providers/http/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    upstream: UpstreamHttp
  }
}

export default fp(async function upstream(app) {
  const { upstream: limits, resilience } = app.config
  const http = new UpstreamHttp({
    maxEventBytes: limits.maxEventBytes,
    maxBodyBytes: limits.maxBodyBytes,
    maxStreamBytes: limits.maxStreamBytes,
    maxRetryAfterMs: resilience.maxKeyCooldownMs,
  })
  app.decorate('upstream', http)
  app.addHook('onClose', async () => http.close())
}, { name: 'upstream' })
