// Upstream error bodies → UpstreamError: a bounded read of the body, the message and code in
// whichever dialect the upstream speaks, the status mapped to a fault kind.
import { UpstreamError, kindForStatus } from '../upstream-error.ts'
import { redactThenCut } from '../../plugins/redact.ts'
import { retryAfterMs } from '../retry-after.ts'
import type { BodyStream, UpstreamResponse } from './types.ts'
import { DEFAULT_UPSTREAM_LIMITS } from './limits.ts'

const ERROR_BODY_LIMIT_BYTES = 64 * 1024
const ERROR_MESSAGE_MAX_CHARS = 300

/** Read at most `limit` bytes of a body as text, then drop the rest. */
export async function readText(body: BodyStream, limit = ERROR_BODY_LIMIT_BYTES): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= limit) {
      body.destroy()
      break
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit)
}

/** The message an upstream put in its error body, whatever its dialect. */
export function upstreamErrorMessage(text: string, contentType: string): { message: string; code?: string } {
  const trimmed = text.trim()
  if (/html/i.test(contentType) || /^<(!doctype|html)/i.test(trimmed)) return { message: 'an HTML error page' }
  try {
    const body = JSON.parse(trimmed) as Record<string, any>
    const err = body.error ?? body
    // Redacted before it is cut (issue 9 item 2): a key straddling the cut must not leave its prefix.
    if (typeof err === 'string') return { message: redactThenCut(err, ERROR_MESSAGE_MAX_CHARS) }
    const message = err.message ?? body.message ?? body.detail ?? JSON.stringify(err)
    const code = err.code ?? err.type ?? err.status
    return { message: redactThenCut(String(message), ERROR_MESSAGE_MAX_CHARS), code: code === undefined || code === null ? undefined : redactThenCut(String(code), ERROR_MESSAGE_MAX_CHARS) }
  } catch {
    return { message: redactThenCut(trimmed, ERROR_MESSAGE_MAX_CHARS) || 'an empty body' }
  }
}

export async function errorFromResponse(
  status: number,
  headers: UpstreamResponse['headers'],
  body: BodyStream,
  maxRetryAfterMs = DEFAULT_UPSTREAM_LIMITS.maxRetryAfterMs,
): Promise<UpstreamError> {
  const text = await readText(body).catch(() => '')
  const contentType = String(headers['content-type'] ?? '')
  const { message, code } = upstreamErrorMessage(text, contentType)
  return new UpstreamError(kindForStatus(status), `HTTP ${status}: ${message}`, {
    status,
    retryAfterMs: retryAfterMs(headers, Date.now(), maxRetryAfterMs),
    upstreamCode: code,
  })
}
