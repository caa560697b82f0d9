// Internal chunks → SSE frames. A clean end is `data: [DONE]`; a failure after the response
// was committed is an OpenAI-shaped error event and NO [DONE], so no client mistakes a cut
// answer for a complete one.
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

export async function* sseFrames(chunks: AsyncIterable<ChatChunk>, provider: string, redact: (s: string) => string): AsyncGenerator<string> {
  try {
    for await (const chunk of chunks) yield `data: ${chunk[RAW_JSON] ?? JSON.stringify(chunk)}\n\n`
  } catch (err) {
    yield redact(errorEvent(err, provider))
    return
  }
  yield 'data: [DONE]\n\n'
}

const TICK = Symbol('tick')
const nextTick = () => new Promise<typeof TICK>((resolve) => setImmediate(resolve, TICK))

/**
 * Joins frames that are ready in the same turn of the event loop into one write. An upstream
 * TCP read often carries many SSE events; writing each on its own costs a syscall and a
 * chunked-encoding frame apiece (the bench measured 4× fewer streams/s that way).
 * A frame that is not ready yet is never waited for: latency is unchanged.
 */
export async function* coalesce(frames: AsyncIterable<string>): AsyncGenerator<string> {
  const iterator = frames[Symbol.asyncIterator]()
  let pending = iterator.next()
  for (;;) {
    const first = await pending
    if (first.done) return
    let batch = first.value
    const tick = nextTick()
    for (;;) {
      pending = iterator.next()
      const next = await Promise.race([pending, tick])
      if (next === TICK) break
      if (next.done) {
        yield batch
        return
      }
      batch += next.value
    }
    yield batch
  }
}
