// Rate limiting (@fastify/rate-limit): RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW per client,
// where a client is its gateway key (request.clientKeyId, set by auth) or else its IP. Counters
// live in memory, or in Redis when REDIS_URL is set so that every instance shares one budget.
// It limits the API, the routes that cost upstream calls or state (/v1/*, /sessions: the ones
// auth protects, except GET /providers, which the status page polls); probes, metrics, docs, the pages and their files, and CORS preflights
// are never limited. Over the limit: 429 in the OpenAI envelope with Retry-After; every limited
// answer carries x-ratelimit-limit/-remaining/-reset.
// Decorates nothing. Depends on `auth` for clientKeyId: auth's onRequest hook is app-wide and
// @fastify/rate-limit adds its own to each route, and Fastify runs route-level hooks after the
// app's, so the key is known when the limiter computes it (a 401 is never counted). Also
// depends on `redis`, `events` and `errors`.
import fp from 'fastify-plugin'
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import { GatewayError } from './errors.ts'
import { isProtectedUrl } from './auth.ts'

/** Redis key prefix; the limiter appends the client key. */
const REDIS_NAMESPACE = 'tiergate:rate-limit:'

/** Exempt by method and path (a route pattern, or the URL when no route matched). */
/** GET /providers costs no upstream call: the status page polls it, and that must not eat the user's budget. */
export const isRateLimitExempt = (method: string, path: string) =>
  method === 'OPTIONS' || !isProtectedUrl(path) || (method === 'GET' && path === '/providers')

export const rateLimitKey = (request: FastifyRequest) =>
  request.clientKeyId !== undefined ? `key:${request.clientKeyId}` : `ip:${normalizeIP(request.ip)}`

export default fp(async function rateLimitPlugin(app) {
  const { max, window, windowMs } = app.config.rateLimit
  if (max === 0) return // RATE_LIMIT_MAX=0: off
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: windowMs,
    redis: app.redis,
    nameSpace: REDIS_NAMESPACE,
    // Redis down must not take the gateway down with it: requests pass unlimited meanwhile
    // (GET /health/ready reports Redis as down, and redis.ts logs the errors).
    skipOnError: true,
    keyGenerator: rateLimitKey,
    allowList: (request) => isRateLimitExempt(request.method, request.routeOptions.url ?? request.url),
    onExceeded: (request) => app.events.emit('rate_limited', { route: request.routeOptions.url ?? 'unmatched' }),
    errorResponseBuilder: (_request, context) => {
      const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000))
      return new GatewayError(
        context.statusCode, 'rate_limit_error', 'rate_limit_exceeded',
        `Rate limit reached: ${context.max} requests per ${window}. Retry in ${context.after}.`,
        null, retryAfterSeconds,
      )
    },
  })
}, { name: 'rate-limit', dependencies: ['auth', 'redis', 'events', 'errors'] })
