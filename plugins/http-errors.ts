// The errors Fastify and Node answer before any route runs — a URL with bad percent-encoding,
// a request line or headers Node cannot parse, headers (or a URL) over Node's 16 KiB limit,
// a request that took too long to arrive — in the OpenAI envelope like every other error
// (issue 9 item 18). Used as Fastify's `frameworkErrors` and `clientErrorHandler` options in
// server.ts; Fastify's defaults answer these in its own shape `{"error":"Bad Request",…}`.
import type { Socket } from 'node:net'
import type { FastifyReply, FastifyRequest, FastifyError } from 'fastify'
import { GatewayError, invalidRequest } from './errors.ts'

/** Fastify's `frameworkErrors`: FST_ERR_BAD_URL (bad percent-encoding) and friends. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const envelope = error.code === 'FST_ERR_BAD_URL'
    ? invalidRequest('The URL is not valid: it has malformed percent-encoding.', null, 'invalid_url')
    : invalidRequest(`The request could not be routed: ${error.message}`, null, 'bad_request')
  reply.code(envelope.statusCode).send(envelope.toEnvelope())
}

/** What a client error on a socket (before Fastify has a request) is answered with. */
export function clientErrorReply(code: string | undefined): GatewayError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError(431, 'invalid_request_error', 'request_header_fields_too_large', 'The request line and headers are larger than the server accepts (16 KiB, URL included).')
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError(408, 'invalid_request_error', 'request_timeout', 'The request did not arrive in time (REQUEST_TIMEOUT_MS).')
    default:
      return invalidRequest('The HTTP request is malformed.', null, 'bad_request')
  }
}

/** Fastify's `clientErrorHandler`: writes the envelope straight to the socket, then closes it. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  // A peer that reset the connection gets no answer: there is nobody to read it.
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy(error)
    return
  }
  const reply = clientErrorReply(error.code)
  const body = JSON.stringify(reply.toEnvelope())
  const reason = reply.statusCode === 431 ? 'Request Header Fields Too Large' : reply.statusCode === 408 ? 'Request Timeout' : 'Bad Request'
  socket.end(`HTTP/1.1 ${reply.statusCode} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}
