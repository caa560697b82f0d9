// Caps on what one upstream answer may make the gateway hold (issue 9 item 6). The transport
// records the limits of each response body it hands out, so that every reader — SSE, NDJSON,
// JSON, in any adapter — enforces them without each call site passing them along.
import type { BodyStream } from './types.ts'
import { UpstreamError } from '../upstream-error.ts'

export interface UpstreamLimits {
  /** One SSE event (all its lines) or one NDJSON line. */
  maxEventBytes: number
  /** One JSON body. */
  maxBodyBytes: number
  /**
   * One streamed body (SSE or NDJSON), all of it: every event may be under maxEventBytes and the
   * stream still never end, while the answer it builds is kept whole (for resume, the cache,
   * sessions, a held tool call).
   */
  maxStreamBytes: number
  /** The longest retry-after honoured (cool-downs and the Retry-After returned). */
  maxRetryAfterMs: number
}

/** The same numbers as config.ts's defaults: readers of a body the transport did not open use them. */
export const DEFAULT_UPSTREAM_LIMITS: UpstreamLimits = {
  maxEventBytes: 4 * 1024 * 1024,
  maxBodyBytes: 32 * 1024 * 1024,
  maxStreamBytes: 64 * 1024 * 1024,
  maxRetryAfterMs: 3_600_000,
}

/** A body's limits, on the body itself: a WeakMap entry per response cost an ephemeron to every GC (issue 14). */
const LIMITS: unique symbol = Symbol('tiergate.upstreamLimits')
type LimitedBody = BodyStream & { [LIMITS]?: UpstreamLimits }

export function setBodyLimits(body: BodyStream, limits: UpstreamLimits): void {
  ;(body as LimitedBody)[LIMITS] = limits
}

export function limitsOf(body: BodyStream): UpstreamLimits {
  return (body as LimitedBody)[LIMITS] ?? DEFAULT_UPSTREAM_LIMITS
}

/** Over a cap: the upstream is at fault (malformed), and its socket is closed at once. */
export function overCap(body: BodyStream, what: string, limit: number, variable: string): UpstreamError {
  if (!body.destroyed) body.destroy()
  return new UpstreamError('malformed', `${what} from upstream is larger than ${limit} bytes (${variable})`)
}
