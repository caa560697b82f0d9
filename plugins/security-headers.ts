// Security headers. Every response gets `X-Content-Type-Options: nosniff`; HTML pages (the
// playground, the status page, Swagger UI) also get a Content-Security-Policy, a Referrer-Policy
// and anti-framing headers. The API's JSON and SSE answers need no more than nosniff.
// Decorates nothing; adds one onSend hook to the whole app (so it is fastify-plugin wrapped).
// A stream written straight to the socket (dialects/sse-body.ts `sendSse`) skips onSend hooks,
// so it sets `applySecurityHeaders` itself: one list for both.
import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'

/**
 * The pages tiergate serves load their scripts and styles as files from this origin only,
 * so `'self'` is all they need (plus data: images for inline icons). A route that needs more
 * (Swagger UI) sets its own policy; this hook leaves an existing one alone.
 */
export const PAGE_CSP_DIRECTIVES: Record<string, string> = {
  'default-src': "'self'",
  'img-src': "'self' data:",
  'object-src': "'none'",
  'base-uri': "'self'",
  'form-action': "'self'",
  'frame-ancestors': "'none'",
}

export const cspHeader = (directives: Record<string, string>) =>
  Object.entries(directives).map(([name, value]) => `${name} ${value}`).join('; ')

const PAGE_CSP = cspHeader(PAGE_CSP_DIRECTIVES)

/** The security headers of a response, set on the reply from its content type. */
export function applySecurityHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff')
  const contentType = String(reply.getHeader('content-type') ?? '')
  if (contentType.startsWith('text/html')) {
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', PAGE_CSP)
    reply.header('referrer-policy', 'no-referrer')
    reply.header('x-frame-options', 'DENY')
    reply.header('cross-origin-opener-policy', 'same-origin')
  }
}

export default fp(async function securityHeaders(app) {
  // Callback style: no promise per response (issue 14).
  app.addHook('onSend', (_request, reply, payload, done) => {
    applySecurityHeaders(reply)
    done(null, payload)
  })
}, { name: 'security-headers' })
