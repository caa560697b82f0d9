// The one error type for upstream failures. It carries what the router needs to decide:
// the upstream status, whether another provider may be tried, and how long to back off.
import { errors as undiciErrors } from './undici-core.ts'
import { redactUpstreamText } from '../plugins/redact.ts'

export type FaultKind =
  | 'client' // the request itself is bad (400/413/422): return at once, do not count against the breaker
  | 'rate_limited' // 429
  | 'auth' // 401/403: this key is bad
  | 'payment' // 402: out of credit
  | 'not_found' // 404: the model or route is not there
  | 'server' // 5xx, 408, 409, other odd statuses
  | 'overloaded' // 503/529
  | 'timeout'
  | 'connection' // refused, reset, DNS
  | 'malformed' // not the protocol we expected
  | 'stream_error' // the upstream reported an error inside the stream
  | 'unsupported' // the provider cannot do what was asked (no embeddings, no tools)
  | 'breaker_open'
  | 'cooling_down' // every key of the provider is cooling down
  | 'aborted' // the client left
  // This process ran out of something (EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL): never the provider's
  // fault. For ROUTER's decide(): it must not count against any breaker or cool a key (the next
  // candidate may still work, e.g. an in-process model), and it is not a client fault either.
  | 'local_resource'

export class UpstreamError extends Error {
  readonly kind: FaultKind
  readonly status: number | undefined
  readonly retryAfterMs: number | undefined
  /** The upstream's error body type/code, when it gave one (e.g. `model_not_found`). */
  readonly upstreamCode: string | undefined
  provider: string | undefined

  constructor(kind: FaultKind, message: string, opts: { status?: number; retryAfterMs?: number; upstreamCode?: string; provider?: string; cause?: unknown } = {}) {
    // Redacted at birth (issue 9 items 1–2): whatever of the upstream's text is kept — message,
    // code, type — reaches clients, logs and /providers only after the configured secrets are masked.
    super(redactUpstreamText(message), opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'UpstreamError'
    this.kind = kind
    this.status = opts.status
    this.retryAfterMs = opts.retryAfterMs
    this.upstreamCode = opts.upstreamCode === undefined ? undefined : redactUpstreamText(opts.upstreamCode)
    this.provider = opts.provider
  }

  /** Client faults return to the client at once and do not count against a breaker. */
  get isClientFault(): boolean {
    return this.kind === 'client' || this.kind === 'aborted'
  }
}

export function kindForStatus(status: number): FaultKind {
  if (status === 400 || status === 413 || status === 422) return 'client'
  if (status === 401 || status === 403) return 'auth'
  if (status === 402) return 'payment'
  if (status === 404) return 'not_found'
  if (status === 429) return 'rate_limited'
  if (status === 503 || status === 529) return 'overloaded'
  return 'server'
}

/** The gateway's own host is out of file descriptors or buffers: no provider is to blame. */
const LOCAL_RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL'])
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

/** The host of a DNS or connect error (Node's errors carry `hostname`, or `address` and `port`). */
function failedHost(e: unknown): string | undefined {
  const x = e as { hostname?: unknown; address?: unknown; port?: unknown } | undefined
  if (typeof x?.hostname === 'string') return x.hostname
  if (typeof x?.address === 'string') return typeof x.port === 'number' ? `${x.address}:${x.port}` : x.address
  return undefined
}

/** Anything thrown while talking to an upstream → UpstreamError. */
export function toUpstreamError(err: unknown, signal?: AbortSignal): UpstreamError {
  if (err instanceof UpstreamError) return err
  // The router aborts an attempt with an UpstreamError as reason (timeout, client gone).
  if (signal?.aborted && signal.reason instanceof UpstreamError) return signal.reason
  if (signal?.aborted) return new UpstreamError('aborted', 'the client closed the request', { cause: err })
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string } }
  const code = e?.code ?? e?.cause?.code
  if (err instanceof undiciErrors.ConnectTimeoutError) return new UpstreamError('timeout', 'connect timeout', { cause: err })
  if (err instanceof undiciErrors.HeadersTimeoutError) return new UpstreamError('timeout', 'no response headers in time', { cause: err })
  if (err instanceof undiciErrors.BodyTimeoutError) return new UpstreamError('timeout', 'the upstream went silent (idle timeout)', { cause: err })
  if (err instanceof SyntaxError) return new UpstreamError('malformed', `invalid JSON from upstream: ${err.message}`, { cause: err })
  if (code && LOCAL_RESOURCE_CODES.has(code)) return new UpstreamError('local_resource', `the gateway is out of local resources (${code})`, { cause: err })
  if (code && CONNECTION_CODES.has(code)) {
    // Name the host: "connection to g4f.space failed (ENOTFOUND)" says where a prompt tried to go.
    const host = failedHost(e) ?? failedHost(e?.cause)
    return new UpstreamError('connection', `connection ${host ? `to ${host} ` : ''}failed (${code})`, { cause: err })
  }
  if (err instanceof undiciErrors.UndiciError) return new UpstreamError('connection', `upstream I/O failed (${code ?? e.name})`, { cause: err })
  return new UpstreamError('connection', `upstream I/O failed: ${e?.message ?? String(err)}`, { cause: err })
}
