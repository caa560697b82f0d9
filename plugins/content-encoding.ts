// Request bodies are taken uncompressed only (issue 9 item 18). Fastify does not decompress,
// so a body sent with `Content-Encoding: gzip` was parsed as if it were plain JSON — a gzip
// body failed as invalid JSON, and a "gzip" body that was not gzip was accepted. Any coding
// other than `identity` is a 415 unsupported_media_type in the route's envelope, before the
// body is read. Depends on `errors`.
import fp from 'fastify-plugin'
import { GatewayError } from './errors.ts'

export const unsupportedContentEncoding = (coding: string) =>
  new GatewayError(415, 'invalid_request_error', 'unsupported_media_type', `Content-Encoding ${JSON.stringify(coding.slice(0, 40))} is not supported: send the request body uncompressed.`)

/** The codings a Content-Encoding header lists, lower-cased, without `identity`. */
export function contentCodings(header: string | string[] | undefined): string[] {
  const value = Array.isArray(header) ? header.join(',') : header ?? ''
  return value.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '' && s !== 'identity')
}

export default fp(async function contentEncoding(app) {
  // Callback style, and no parsing when the header is absent (nearly always): no promise per request.
  app.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers['content-encoding']
    if (header === undefined) return done()
    const codings = contentCodings(header)
    done(codings.length === 0 ? undefined : unsupportedContentEncoding(codings.join(', ')))
  })
}, { name: 'content-encoding', dependencies: ['errors'] })
