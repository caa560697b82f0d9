// The request's id, and the per-request context handed to the router: an AbortSignal that
// fires when the client goes away before its response is finished, the request's logger and id.
// Not Fastify's own `request.signal`: it listens on the request's 'close', which does not fire
// when the client hangs up while we still wait on the upstream (test/core/abort.test.ts and
// test/resilience/abort.test.ts fail with it); the response's 'close' does.
import type { IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RequestContext } from './router.ts'

const REQUEST_ID_PATTERN = /^[\w.:-]{1,128}$/

/**
 * The request's id (Fastify's genReqId): a caller's own x-request-id is kept (tracing across
 * services) when it is sane, else a fresh UUID. It is echoed in headers and logs, hence the check.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID()
}

export function requestContext(request: FastifyRequest, reply: FastifyReply): RequestContext {
  const controller = new AbortController()
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort()
  }
  // `on`, not `once`: 'close' fires once anyway, and `once` allocates a wrapper per request.
  reply.raw.on('close', onClose)
  return { signal: controller.signal, log: request.log, requestId: request.id }
}
