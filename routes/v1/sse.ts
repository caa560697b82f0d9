// Internal chunks → SSE frames. A clean end is `data: [DONE]`; a failure after the response
// was committed is an OpenAI-shaped error event and NO [DONE], so no client mistakes a cut
// answer for a complete one.
import { Readable } from 'node:stream'
import { RAW_JSON, type ChatChunk } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no', // nginx: do not buffer the stream
}

export function errorEvent(err: unknown, provider: string): string {
  const upstream = err instanceof UpstreamError ? err : undefined
  const message = upstream
    ? `The stream from ${provider} failed after it had started: ${upstream.message}`
    : `The stream from ${provider} failed after it had started.`
  const error = { message, type: 'api_error', param: null, code: upstream?.kind === 'timeout' ? 'upstream_timeout' : 'upstream_stream_failed' }
  return `data: ${JSON.stringify({ error })}\n\n`
}

/** Past this many buffered bytes no more chunks are pulled from upstream (backpressure). */
const SSE_HIGH_WATER_BYTES = 64 * 1024

/**
 * The SSE body of a committed stream: `data: {chunk}` frames, then `data: [DONE]` — or, when
 * the stream fails after commit, an error event and no [DONE].
 *
 * Frames that are ready in the same turn of the event loop leave as one write: an upstream TCP
 * read often carries many events, and a write apiece costs a syscall and a chunked-encoding
 * frame each. A frame is never held back waiting for the next one, so latency is unchanged.
 * One pull loop feeds the stream directly (no generator per stage): per-chunk async steps were
 * the largest cost in the stream benchmark.
 */
export function sseBody(chunks: AsyncIterable<ChatChunk>, provider: string, redact: (s: string) => string): Readable {
  const iterator = chunks[Symbol.asyncIterator]()
  let pending = ''
  let flushScheduled = false
  let pulling = false
  let ended = false
  let closed = false

  const body = new Readable({
    highWaterMark: SSE_HIGH_WATER_BYTES,
    read() {
      if (!pulling && !ended) void pull()
    },
    destroy(err, callback) {
      ended = true
      // The client left: end the upstream side too (its finally blocks abort the upstream request).
      void iterator.return?.()?.catch(() => undefined)
      callback(err)
    },
  })

  function flush(): void {
    flushScheduled = false
    if (body.destroyed || closed) return
    if (pending) {
      body.push(pending)
      pending = ''
    }
    if (ended) {
      closed = true
      body.push(null)
    }
  }

  function queue(frame: string): void {
    pending += frame
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flush)
    }
  }

  async function pull(): Promise<void> {
    pulling = true
    try {
      while (!ended) {
        const next = await iterator.next()
        if (next.done) {
          ended = true
          queue('data: [DONE]\n\n')
          break
        }
        queue(`data: ${next.value[RAW_JSON] ?? JSON.stringify(next.value)}\n\n`)
        if (body.readableLength + pending.length >= SSE_HIGH_WATER_BYTES) break // the client is slower than the upstream
      }
    } catch (err) {
      ended = true
      queue(redact(errorEvent(err, provider)))
    } finally {
      pulling = false
    }
  }

  return body
}
