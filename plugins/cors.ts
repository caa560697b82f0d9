// CORS (@fastify/cors) from CORS_ORIGINS: `*` (the default) or a comma-separated list of
// origins. Preflights are answered by @fastify/cors before auth or rate limiting see them, and
// its onRequest hook runs first so that a 401 or 429 still carries the CORS headers a browser
// needs to read it. Decorates nothing; depends on nothing.
import fp from 'fastify-plugin'
import cors from '@fastify/cors'

/** How long a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE_S = 600

/** Response headers a browser client may read (who answered, rate-limit budget, tracing). */
export const EXPOSED_HEADERS = [
  'x-request-id',
  'x-tiergate-provider',
  'x-tiergate-tier',
  'x-tiergate-attempts',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'retry-after',
]

export default fp(async function corsPlugin(app) {
  const origins = app.config.corsOrigins
  await app.register(cors, {
    origin: origins.length === 0 || origins.includes('*') ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    // No allowedHeaders: the request's Access-Control-Request-Headers are reflected, so the
    // OpenAI SDKs' own headers (x-stainless-*, openai-*) pass without a list to keep current.
    // Joined once here: given an array, @fastify/cors joins it again on every response.
    exposedHeaders: EXPOSED_HEADERS.join(', '),
    maxAge: PREFLIGHT_MAX_AGE_S,
  })
}, { name: 'cors' })
