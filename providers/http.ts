// Shared upstream I/O: one undici Pool per origin, JSON requests with layered timeouts,
// SSE and NDJSON readers, and upstream-status → UpstreamError mapping.
// Adapters never touch sockets themselves; they call UpstreamHttp with their CallContext.
import type { Dispatcher, Pool } from 'undici'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import type { CallContext } from './contract.ts'
import { UpstreamError, kindForStatus, toUpstreamError } from './upstream-error.ts'
import { retryAfterMs } from './retry-after.ts'
import { createUpstreamPool } from './upstream-pool.ts'

const ERROR_BODY_LIMIT_BYTES = 64 * 1024
const ERROR_MESSAGE_MAX_CHARS = 300
/** undici's own timeouts back the attempt's timers up; they must not fire first. */
const BACKSTOP_SLACK_MS = 1000

export type BodyStream = Dispatcher.ResponseData['body']

export interface UpstreamResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: BodyStream
}

export interface UpstreamRequest {
  url: string
  method?: 'GET' | 'POST' | 'HEAD'
  headers?: Record<string, string>
  /** Serialized as JSON. */
  json?: unknown
  /** What a successful answer must be: checked against Content-Type. */
  expect: 'json' | 'sse' | 'ndjson' | 'any'
}

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
    if (typeof err === 'string') return { message: err.slice(0, ERROR_MESSAGE_MAX_CHARS) }
    const message = err.message ?? body.message ?? body.detail ?? JSON.stringify(err)
    const code = err.code ?? err.type ?? err.status
    return { message: String(message).slice(0, ERROR_MESSAGE_MAX_CHARS), code: code === undefined || code === null ? undefined : String(code) }
  } catch {
    return { message: trimmed.slice(0, ERROR_MESSAGE_MAX_CHARS) || 'an empty body' }
  }
}

export async function errorFromResponse(status: number, headers: UpstreamResponse['headers'], body: BodyStream): Promise<UpstreamError> {
  const text = await readText(body).catch(() => '')
  const contentType = String(headers['content-type'] ?? '')
  const { message, code } = upstreamErrorMessage(text, contentType)
  return new UpstreamError(kindForStatus(status), `HTTP ${status}: ${message}`, {
    status,
    retryAfterMs: retryAfterMs(headers),
    upstreamCode: code,
  })
}

const CONTENT_TYPES: Record<UpstreamRequest['expect'], RegExp> = {
  json: /json/i,
  sse: /event-stream/i,
  ndjson: /ndjson|jsonl|json/i, // Ollama sends application/x-ndjson; some proxies relabel it
  any: /.*/,
}

export class UpstreamHttp {
  readonly #pools = new Map<string, Pool>()

  pool(origin: string, connectTimeoutMs: number): Pool {
    const key = `${origin}|${connectTimeoutMs}`
    let pool = this.#pools.get(key)
    if (!pool) {
      pool = createUpstreamPool(origin, connectTimeoutMs)
      this.#pools.set(key, pool)
    }
    return pool
  }

  /** Send a request; a non-2xx status or an unexpected Content-Type throws an UpstreamError. */
  async request(req: UpstreamRequest, ctx: Pick<CallContext, 'signal' | 'timeouts'>): Promise<UpstreamResponse> {
    const url = new URL(req.url)
    const streaming = req.expect === 'sse' || req.expect === 'ndjson'
    const headers: Record<string, string> = { accept: streaming ? 'text/event-stream, application/x-ndjson, application/json' : 'application/json', ...req.headers }
    let body: string | undefined
    if (req.json !== undefined) {
      body = JSON.stringify(req.json)
      headers['content-type'] = 'application/json'
    }
    let res: Dispatcher.ResponseData
    try {
      res = await this.pool(url.origin, ctx.timeouts.connectMs).request({
        path: url.pathname + url.search,
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
      throw await errorFromResponse(res.statusCode, res.headers, res.body)
    }
    const contentType = String(res.headers['content-type'] ?? '')
    if (!CONTENT_TYPES[req.expect].test(contentType)) {
      const preview = await readText(res.body, 512).catch(() => '')
      const what = /html/i.test(contentType) || /^\s*</.test(preview) ? 'an HTML page' : `Content-Type ${JSON.stringify(contentType)}`
      throw new UpstreamError('malformed', `expected ${req.expect} but got ${what} with HTTP ${res.statusCode}`, { status: res.statusCode })
    }
    return { status: res.statusCode, headers: res.headers, body: res.body }
  }

  /** A JSON request whose whole answer is parsed. */
  async json<T>(req: Omit<UpstreamRequest, 'expect'>, ctx: Pick<CallContext, 'signal' | 'timeouts'>): Promise<T> {
    const res = await this.request({ ...req, expect: 'json' }, ctx)
    let text: string
    try {
      text = await res.body.text()
    } catch (err) {
      throw toUpstreamError(err, ctx.signal)
    }
    try {
      return JSON.parse(text) as T
    } catch {
      throw new UpstreamError('malformed', `truncated or invalid JSON from upstream (${text.length} bytes)`, { status: res.status })
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.destroy()))
  }
}

/**
 * SSE events from a body, per the WHATWG parsing rules (comments, CRLF, multi-line data, split
 * chunks), as one array per network read: a reader that handles each event still pays for one
 * async step per read, not per event (that cost dominated the stream benchmark).
 */
export async function* sseEventBatches(body: BodyStream, signal?: AbortSignal): AsyncGenerator<EventSourceMessage[]> {
  let batch: EventSourceMessage[] = []
  const parser = createParser({ onEvent: (event) => batch.push(event) })
  const decoder = new TextDecoder() // streaming mode: a UTF-8 character split across chunks stays whole
  try {
    for await (const chunk of body) {
      parser.feed(decoder.decode(chunk, { stream: true }))
      if (batch.length === 0) continue
      const ready = batch
      batch = []
      yield ready
    }
  } catch (err) {
    throw toUpstreamError(err, signal)
  } finally {
    // An early return (client gone, error event) must free the upstream socket now.
    if (!body.destroyed) body.destroy()
  }
  // A final event without its blank line still counts (some servers omit it).
  parser.feed('\n\n')
  if (batch.length) yield batch
}

/** SSE events from a body, one at a time. */
export async function* sseEvents(body: BodyStream, signal?: AbortSignal): AsyncGenerator<EventSourceMessage> {
  for await (const batch of sseEventBatches(body, signal)) yield* batch
}

/** One parsed object per NDJSON line. A line that is not JSON is a malformed stream. */
export async function* ndjsonObjects<T>(body: BodyStream, signal?: AbortSignal): AsyncGenerator<T> {
  let buffered = ''
  const decoder = new TextDecoder()
  const parse = (line: string): T => {
    try {
      return JSON.parse(line) as T
    } catch {
      throw new UpstreamError('malformed', `malformed NDJSON line from upstream: ${line.slice(0, 80)}`)
    }
  }
  try {
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true })
      let newline: number
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim()
        buffered = buffered.slice(newline + 1)
        if (line) yield parse(line)
      }
    }
  } catch (err) {
    throw toUpstreamError(err, signal)
  } finally {
    if (!body.destroyed) body.destroy()
  }
  if (buffered.trim()) yield parse(buffered.trim())
}
