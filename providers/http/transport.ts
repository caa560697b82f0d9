// The transport: one undici Pool per upstream origin, requests with layered timeout
// backstops, the Content-Type check, and bounded JSON bodies. Every body it hands out carries
// the caps (limits.ts) its readers enforce.
import type { Dispatcher, Pool } from 'undici'
import type { CallContext } from '../contract.ts'
import { UpstreamError, toUpstreamError } from '../upstream-error.ts'
import { createUpstreamPool } from '../upstream-pool.ts'
import type { BodyStream, UpstreamRequest, UpstreamResponse } from './types.ts'
import { DEFAULT_UPSTREAM_LIMITS, overCap, setBodyLimits, type UpstreamLimits } from './limits.ts'
import { errorFromResponse, readText } from './errors.ts'
import { parseUpstreamJson } from '../json-depth.ts'
import { traceHeaders } from '../../plugins/telemetry/attempt-headers.ts'

/** undici's own timeouts back the attempt's timers up; they must not fire first. */
const BACKSTOP_SLACK_MS = 1000

const CONTENT_TYPES: Record<UpstreamRequest['expect'], RegExp> = {
  json: /json/i,
  sse: /event-stream/i,
  ndjson: /ndjson|jsonl|json/i, // Ollama sends application/x-ndjson; some proxies relabel it
  any: /.*/,
}

/**
 * The request body as JSON. A body that cannot be serialized (JSON.stringify throws on a
 * 10⁵-deep passthrough field, a BigInt, a cycle) is the client's fault: a 400, never a
 * connection fault counted against the provider's breaker (issue 9 item 10).
 */
export function serializeRequest(json: unknown): string {
  try {
    return JSON.stringify(json)
  } catch (err) {
    const why = err instanceof RangeError ? 'it is nested too deeply' : (err as Error)?.message ?? String(err)
    throw new UpstreamError('client', `the request could not be serialized for the upstream: ${why}`, { status: 400, upstreamCode: 'request_not_serializable', cause: err })
  }
}

const ignoreError = () => undefined

/** An upstream URL as a request needs it, parsed once. */
interface Target {
  /** Read only: shared by every request to this URL. */
  url: URL
  origin: string
  path: string
}
/** Parsed upstream URLs kept per transport; a URL that varies per request only refills them. */
const MAX_TARGETS = 1024

/**
 * The whole body, read incrementally and never past `maxBytes` (a 1 GB body once peaked at 3.2 GB
 * RSS). Read by its events, not `for await`: a stream's async iterator costs an end-of-stream
 * watcher, a promise per chunk and a tick per step, ~1 KB of garbage per JSON answer (issue 14).
 */
export function readBounded(body: BodyStream, maxBytes: number, declaredLength: string | string[] | undefined): Promise<Buffer> {
  const declared = Number(Array.isArray(declaredLength) ? declaredLength[0] : declaredLength)
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(overCap(body, 'a JSON body', maxBytes, 'UPSTREAM_MAX_BODY_BYTES'))
  // Destroyed already (its 'close' may have been emitted): nothing more will come.
  if (body.destroyed) return Promise.reject(body.errored ?? new Error('the upstream body was closed before its end'))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        settle()
        // overCap destroys the body, which then emits its abort error: nobody else listens.
        body.on('error', ignoreError)
        return reject(overCap(body, 'a JSON body', maxBytes, 'UPSTREAM_MAX_BODY_BYTES'))
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      settle()
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size))
    }
    const onError = (err: Error) => {
      settle()
      reject(err)
    }
    // A body destroyed without an error (the attempt aborted it) ends neither way: 'close' says so.
    const onClose = () => {
      settle()
      reject(body.errored ?? new Error('the upstream body was closed before its end'))
    }
    const settle = () => {
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
    }
    body.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
  })
}

export class UpstreamHttp {
  /** By origin, then connect timeout: no key string built per request. */
  readonly #pools = new Map<string, Map<number, Pool>>()
  /**
   * Parsed upstream URLs by their text. A provider sends every request to one of a handful of
   * URLs; parsing each anew (`new URL`, its origin, its path) cost every request ~1 µs and
   * five objects (issue 14).
   */
  readonly #targets = new Map<string, Target>()
  readonly limits: UpstreamLimits

  constructor(limits: Partial<UpstreamLimits> = {}) {
    this.limits = { ...DEFAULT_UPSTREAM_LIMITS, ...limits }
  }

  pool(origin: string, connectTimeoutMs: number): Pool {
    let byTimeout = this.#pools.get(origin)
    if (!byTimeout) this.#pools.set(origin, (byTimeout = new Map()))
    let pool = byTimeout.get(connectTimeoutMs)
    if (!pool) {
      pool = createUpstreamPool(origin, connectTimeoutMs)
      byTimeout.set(connectTimeoutMs, pool)
    }
    return pool
  }

  #targetOf(text: string): Target {
    let target = this.#targets.get(text)
    if (target === undefined) {
      const url = new URL(text)
      target = { url, origin: url.origin, path: url.pathname + url.search }
      if (this.#targets.size >= MAX_TARGETS) this.#targets.clear()
      this.#targets.set(text, target)
    }
    return target
  }

  /** Send a request; a non-2xx status or an unexpected Content-Type throws an UpstreamError. */
  async request(req: UpstreamRequest, ctx: Pick<CallContext, 'signal' | 'timeouts'>): Promise<UpstreamResponse> {
    const { url, origin, path } = this.#targetOf(req.url)
    const streaming = req.expect === 'sse' || req.expect === 'ndjson'
    // traceHeaders: the attempt's W3C traceparent when the request is traced (plugins/telemetry), else nothing.
    const headers: Record<string, string> = { accept: streaming ? 'text/event-stream, application/x-ndjson, application/json' : 'application/json', ...req.headers, ...traceHeaders(url) }
    let body: string | undefined
    if (req.json !== undefined) {
      body = serializeRequest(req.json)
      headers['content-type'] = 'application/json'
    }
    let res: Dispatcher.ResponseData
    try {
      res = await this.pool(origin, ctx.timeouts.connectMs).request({
        path,
        method: req.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        body,
        signal: ctx.signal,
        // The router's attempt owns the first-byte, idle and total limits with its own timers
        // (one owner: one precise error; and undici's bodyTimeout would also run between the
        // headers and the first chunk, cutting a slow-to-think model at the idle limit). These
        // are backstops, a little later so that they never win the race: non-stream answers
        // send headers only once the whole answer is done, so both are bounded by the total.
        headersTimeout: (streaming ? ctx.timeouts.firstByteMs : ctx.timeouts.totalMs) + BACKSTOP_SLACK_MS,
        bodyTimeout: (streaming ? Math.max(ctx.timeouts.firstByteMs, ctx.timeouts.idleMs) : ctx.timeouts.totalMs) + BACKSTOP_SLACK_MS,
      })
    } catch (err) {
      throw toUpstreamError(err, ctx.signal)
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw await errorFromResponse(res.statusCode, res.headers, res.body, this.limits.maxRetryAfterMs)
    }
    const contentType = String(res.headers['content-type'] ?? '')
    if (!CONTENT_TYPES[req.expect].test(contentType)) {
      const preview = await readText(res.body, 512).catch(() => '')
      const what = /html/i.test(contentType) || /^\s*</.test(preview) ? 'an HTML page' : `Content-Type ${JSON.stringify(contentType.slice(0, 100))}`
      throw new UpstreamError('malformed', `expected ${req.expect} but got ${what} with HTTP ${res.statusCode}`, { status: res.statusCode })
    }
    setBodyLimits(res.body, this.limits)
    return { status: res.statusCode, headers: res.headers, body: res.body }
  }

  /** A JSON request whose whole answer (at most UPSTREAM_MAX_BODY_BYTES) is parsed. */
  async json<T>(req: Omit<UpstreamRequest, 'expect'>, ctx: Pick<CallContext, 'signal' | 'timeouts'>): Promise<T> {
    const res = await this.request({ ...req, expect: 'json' }, ctx)
    let bytes: Buffer
    try {
      bytes = await readBounded(res.body, this.limits.maxBodyBytes, res.headers['content-length'])
    } catch (err) {
      throw toUpstreamError(err, ctx.signal)
    }
    try {
      return parseUpstreamJson<T>(bytes.toString('utf8'))
    } catch (err) {
      if (err instanceof UpstreamError) throw err
      throw new UpstreamError('malformed', `truncated or invalid JSON from upstream (${bytes.length} bytes)`, { status: res.status })
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()].flatMap((byTimeout) => [...byTimeout.values()])
    this.#pools.clear()
    this.#targets.clear()
    await Promise.all(pools.map((p) => p.destroy()))
  }
}
