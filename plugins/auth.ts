// Gateway keys (GATEWAY_API_KEYS): when set, /v1/*, /providers and /sessions/* need
// `Authorization: Bearer <key>` or `x-api-key: <key>`. Decorates `request.clientKeyId`: a
// stable, non-secret id of the caller's key (sessions belong to it), undefined when auth is off.
// Keys are compared in constant time, on their SHA-256 digests so lengths leak nothing either.
import fp from 'fastify-plugin'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { unauthorized } from './errors.ts'

declare module 'fastify' {
  interface FastifyRequest {
    clientKeyId: string | undefined
  }
}

const PROTECTED = [/^\/v1\//, /^\/providers(?:\/|\?|$)/, /^\/sessions(?:\/|\?|$)/]

/** Whether a path (a route pattern or a URL) needs a gateway key when GATEWAY_API_KEYS is set. */
export const isProtectedUrl = (url: string) => PROTECTED.some((re) => re.test(url))

const digest = (value: string) => createHash('sha256').update(value).digest()

export function presentedKey(request: FastifyRequest): string | undefined {
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
  if (keys.length === 0) return
  app.addHook('onRequest', async (request) => {
    // Decide on the matched route pattern, not the raw URL: the router decodes %-escapes, so
    // `/%70roviders` reaches /providers while the raw string matches no protected prefix.
    if (request.method === 'OPTIONS' || !isProtectedUrl(request.routeOptions.url ?? request.url)) return
    const presented = presentedKey(request)
    if (!presented) throw unauthorized()
    const presentedDigest = digest(presented)
    // Compare against every key, always, so timing does not tell which one nearly matched.
    let match: string | undefined
    for (const key of keys) if (timingSafeEqual(key.digest, presentedDigest)) match = key.id
    if (!match) throw unauthorized('Invalid API key for this gateway.')
    request.clientKeyId = match
  })
}, { name: 'auth', dependencies: ['errors'] })
