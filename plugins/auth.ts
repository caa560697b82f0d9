// Gateway keys (GATEWAY_API_KEYS): when set, /v1/*, /providers and /sessions/* need
// `Authorization: Bearer <key>` or `x-api-key: <key>` (Anthropic clients send the latter).
// Decorates `request.clientKeyId`: a stable, non-secret id of the caller's key (sessions
// belong to it), undefined when auth is off.
// Keys are compared in constant time, on their SHA-256 digests so lengths leak nothing either.
// Also, always (keys set or not):
//   - credentials in a /v1 query string (`?api_key=…`) are refused with a 401 saying to use a
//     header, as the OpenAI API does — they end up in logs and proxies (logs mask them anyway);
//   - an IP past AUTH_FAILURE_LIMIT failed authentications per minute gets 429 + Retry-After,
//     checked before any key is compared (plugins/auth-failures.ts).
import fp from 'fastify-plugin'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'
import { authFailuresLimited, credentialsInQuery, unauthorized } from './errors.ts'
import { credentialQueryParam } from './redact.ts'
import { AuthFailureLimiter } from './auth-failures.ts'

declare module 'fastify' {
  interface FastifyRequest {
    clientKeyId: string | undefined
  }
}

const PROTECTED = [/^\/v1\//, /^\/providers(?:\/|\?|$)/, /^\/sessions(?:\/|\?|$)/]
const API = /^\/v1\//

/** Whether a path (a route pattern or a URL) needs a gateway key when GATEWAY_API_KEYS is set. */
export const isProtectedUrl = (url: string) => PROTECTED.some((re) => re.test(url))

const digest = (value: string) => createHash('sha256').update(value).digest()

export function presentedKey(request: Pick<FastifyRequest, 'headers'>): string | undefined {
  const authorization = request.headers.authorization
  // The auth scheme is case-insensitive (RFC 9110 §11.1): `bearer` is as good as `Bearer`.
  const bearer = authorization === undefined ? null : /^Bearer\s+(\S.*)$/i.exec(authorization)
  if (bearer) return bearer[1].trim()
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' ? apiKey.trim() : undefined
}

export default fp(async function auth(app) {
  app.decorateRequest('clientKeyId', undefined)
  const keys = app.config.gatewayApiKeys.map((key) => ({ digest: digest(key), id: digest(key).toString('hex').slice(0, 16) }))
  const failures = new AuthFailureLimiter(app.config.authFailureLimit)

  /** Sets request.clientKeyId, or throws the refusal. */
  function authenticate(request: FastifyRequest): void {
    if (request.method === 'OPTIONS') return
    // Decide on the matched route pattern, not the raw URL: the router decodes %-escapes, so
    // `/%70roviders` reaches /providers while the raw string matches no protected prefix.
    const path = request.routeOptions.url ?? request.url
    if (API.test(path)) {
      const param = credentialQueryParam(request.url)
      if (param !== undefined) throw credentialsInQuery(param)
    }
    if (keys.length === 0 || !isProtectedUrl(path)) return
    const ip = normalizeIP(request.ip)
    const waitMs = failures.retryAfterMs(ip)
    if (waitMs > 0) throw authFailuresLimited(Math.max(1, Math.ceil(waitMs / 1000)))
    const presented = presentedKey(request)
    if (!presented) {
      failures.recordFailure(ip)
      throw unauthorized()
    }
    const presentedDigest = digest(presented)
    // Compare against every key, always, so timing does not tell which one nearly matched.
    let match: string | undefined
    for (const key of keys) if (timingSafeEqual(key.digest, presentedDigest)) match = key.id
    if (!match) {
      failures.recordFailure(ip)
      throw unauthorized('Invalid API key for this gateway.')
    }
    request.clientKeyId = match
  }

  // Callback style: no promise per request (issue 14).
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      authenticate(request)
    } catch (err) {
      return done(err as Error)
    }
    done()
  })
}, { name: 'auth', dependencies: ['errors'] })
