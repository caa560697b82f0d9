// The SSE body of a committed stream, for every dialect: internal chunks in, the dialect's
// frames out (its encoder decides the frames, its clean end and its error event). Shared by
// dialects/openai-chat, dialects/anthropic-messages and dialects/openai-responses.
//
// What every dialect gets from here, the same way:
// - a router note on a chunk (STREAM_NOTE, e.g. "resumed on groq") is an SSE comment before it;
// - a failure after commit is the encoder's error event and NO clean end, so no client takes a
//   cut answer for a complete one;
// - frames ready in the same turn of the event loop leave as one write (an upstream TCP read
//   often carries many events; a write apiece costs a syscall and a chunked-encoding frame),
//   never held back waiting for the next one;
// - backpressure: past SSE_HIGH_WATER_BYTES buffered, no more chunks are pulled from upstream;
// - an optional keep-alive frame during long upstream silences (Anthropic's `ping`). The body
//   only exists once the router has committed, so it never runs before commit.
//
// The routes write it straight to the socket (`sendSse`): a `Readable` handed to `reply.send`
// is piped into the response with end-of-stream listeners on both sides, which cost ~15 % of a
// whole streamed request (issue 14). `sseBody` is the same loop as a `Readable`, for callers that
// want one (tests, bench/in-process.ts).
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { applySecurityHeaders } from '../plugins/security-headers.ts'
import { RAW_FRAMES, RAW_JSON, STREAM_NOTE, type ChatChunk, type ChunkBatch } from '../providers/contract.ts'
import { readBatch } from '../plugins/router/batch.ts'

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no', // nginx: do not buffer the stream
}

/** Past this many buffered bytes no more chunks are pulled from upstream (backpressure). */
const SSE_HIGH_WATER_BYTES = 64 * 1024

export interface SseEncoder {
  /** The frames for one chunk; '' when the chunk shows nothing in this dialect. */
  chunk(chunk: ChatChunk): string
  /** The clean end (OpenAI: `data: [DONE]`; Anthropic: the last block stops, message_delta, message_stop). */
  end(): string
  /** The dialect's error event for a failure after commit. */
  error(err: unknown): string
  /** Written whenever the upstream has been silent this long. */
  keepAlive?: { intervalMs: number; frame: string }
  /**
   * This encoder writes a chunk that has RAW_JSON (and no note) as `data: <RAW_JSON>\n\n` and
   * keeps no state: a batch's upstream bytes (RAW_FRAMES) are then forwarded as they are.
   */
  rawFrames?: boolean
}

/** An SSE comment line: a note can never break out of it into an event. */
export const sseComment = (note: string) => `: ${note.replace(/[\r\n]+/g, ' ')}\n\n`

/** Where the pump writes: a Readable's buffer or the HTTP response itself. */
interface SseSink {
  /** One flush: everything ready in one turn of the event loop. */
  write(data: string | Uint8Array): void
  end(): void
  /** Bytes written and not yet taken by the consumer (backpressure). */
  buffered(): number
  gone(): boolean
}

interface SsePump {
  /** Pull again (the sink has room, or wants its first bytes). */
  resume(): void
  /** The consumer left: stop, and end the upstream side too. */
  cancel(): void
}

/** One pull loop feeds the sink directly (no generator per stage): per-chunk async steps were the largest cost in the stream benchmark. */
function ssePump(chunks: AsyncIterable<ChatChunk>, encoder: SseEncoder, redact: (s: string) => string, sink: SseSink): SsePump {
  const iterator = chunks[Symbol.asyncIterator]()
  /** What the next flush writes, in order: frames as text, upstream bytes as they came. */
  let pending: Array<string | Uint8Array> = []
  let pendingBytes = 0
  let flushScheduled = false
  let pulling = false
  let ended = false
  let closed = false
  let lastQueuedAt = performance.now()
  let keepAliveTimer: NodeJS.Timeout | undefined

  function flush(): void {
    flushScheduled = false
    if (closed || sink.gone()) return
    if (pending.length > 0) {
      // One write, so one chunk of the HTTP body (a write apiece costs a syscall and its framing).
      sink.write(pending.length === 1 ? pending[0] : Buffer.concat(pending.map((part) => (typeof part === 'string' ? Buffer.from(part) : part))))
      pending = []
      pendingBytes = 0
    }
    if (ended) {
      closed = true
      sink.end()
    }
  }

  function scheduleFlush(): void {
    if (flushScheduled) return
    flushScheduled = true
    setImmediate(flush)
  }

  function queue(frame: string | Uint8Array): void {
    if (frame.length === 0) return
    const last = pending.length - 1
    // Text after text joins it (one write); bytes stay a part of their own, never copied.
    if (typeof frame === 'string' && last >= 0 && typeof pending[last] === 'string') pending[last] += frame
    else pending.push(frame)
    pendingBytes += frame.length
    lastQueuedAt = performance.now()
    scheduleFlush()
  }

  function finish(frame: string): void {
    ended = true
    clearTimeout(keepAliveTimer)
    queue(frame)
    scheduleFlush()
  }

  const keepAlive = encoder.keepAlive
  if (keepAlive) {
    const check = () => {
      if (ended) return
      const silentMs = performance.now() - lastQueuedAt
      // Only while waiting on the upstream: a slow client needs no pings, it has data to read.
      if (pulling && silentMs >= keepAlive.intervalMs) queue(keepAlive.frame)
      keepAliveTimer = setTimeout(check, Math.max(1, keepAlive.intervalMs - (performance.now() - lastQueuedAt)))
      keepAliveTimer.unref()
    }
    keepAliveTimer = setTimeout(check, keepAlive.intervalMs)
    keepAliveTimer.unref()
  }

  /** A batch's upstream bytes, when they are exactly what the encoder would write for it. */
  function upstreamBytesOf(batch: ChunkBatch): Uint8Array | undefined {
    const bytes = batch[RAW_FRAMES]
    if (bytes === undefined || !encoder.rawFrames) return undefined
    for (const chunk of batch) if (chunk[RAW_JSON] === undefined || chunk[STREAM_NOTE] !== undefined) return undefined
    return bytes
  }

  async function pull(): Promise<void> {
    pulling = true
    try {
      while (!ended) {
        // A whole network read's chunks at once where every layer speaks the batch protocol.
        const next = await readBatch(iterator)
        if (next.done) {
          finish(encoder.end())
          break
        }
        const bytes = upstreamBytesOf(next.value)
        if (bytes) queue(bytes)
        else {
          let frames = ''
          for (const chunk of next.value) {
            const note = chunk[STREAM_NOTE]
            if (note) frames += sseComment(note)
            frames += encoder.chunk(chunk)
          }
          queue(frames)
        }
        if (sink.buffered() + pendingBytes >= SSE_HIGH_WATER_BYTES) break // the client is slower than the upstream
      }
    } catch (err) {
      finish(redact(encoder.error(err)))
    } finally {
      pulling = false
    }
  }

  return {
    resume() {
      if (!pulling && !ended) void pull()
    },
    cancel() {
      if (closed) return
      ended = true
      closed = true
      clearTimeout(keepAliveTimer)
      // Its finally blocks abort the upstream request.
      void iterator.return?.()?.catch(() => undefined)
    },
  }
}

/** The SSE body as a `Readable` (tests, the in-process bench). */
export function sseBody(chunks: AsyncIterable<ChatChunk>, encoder: SseEncoder, redact: (s: string) => string): Readable {
  let pump: SsePump | undefined
  const body = new Readable({
    highWaterMark: SSE_HIGH_WATER_BYTES,
    read() {
      pump!.resume()
    },
    destroy(err, callback) {
      pump!.cancel()
      callback(err)
    },
  })
  pump = ssePump(chunks, encoder, redact, {
    write: (data) => void body.push(data),
    end: () => void body.push(null),
    buffered: () => body.readableLength,
    gone: () => body.destroyed,
  })
  return body
}

/**
 * The route's answer: the SSE body written straight to the socket, with the reply's headers
 * (the route's, CORS, rate limit, request id) and the security headers the skipped onSend hook
 * would add. The other onSend hooks act only on error statuses or on string payloads. The
 * reply's onResponse hooks (metrics, the access log, telemetry) still run: Fastify listens for
 * the response's `finish` from the start of the request.
 */
export function sendSse(reply: FastifyReply, chunks: AsyncIterable<ChatChunk>, encoder: SseEncoder, redact: (s: string) => string): FastifyReply {
  reply.headers(SSE_HEADERS)
  applySecurityHeaders(reply)
  reply.hijack()
  writeSse(reply.raw, reply.statusCode, reply.getHeaders() as Record<string, string>, chunks, encoder, redact)
  return reply
}

/**
 * The SSE body on a bare HTTP response, headers given whole (sendSse adds the SSE headers; a
 * caller without a reply — bench/core-floor.ts — passes its own).
 */
export function writeSse(res: ServerResponse, statusCode: number, headers: Record<string, string>, chunks: AsyncIterable<ChatChunk>, encoder: SseEncoder, redact: (s: string) => string): void {
  res.writeHead(statusCode, headers)
  const pump = ssePump(chunks, encoder, redact, {
    write: (data) => void res.write(data),
    end: () => void res.end(),
    buffered: () => res.writableLength,
    gone: () => res.destroyed,
  })
  res.on('drain', pump.resume)
  // Before the end: the client left (after it: nothing to do, the pump has closed).
  res.on('close', pump.cancel)
  // Gone already (its 'close' emitted in the turn the router committed): nothing to pull for.
  if (res.destroyed) pump.cancel()
  else pump.resume()
}
