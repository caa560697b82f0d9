// One leg of a committed stream: the chunks held up to the commit point, then the rest pulled
// on demand under the idle limit. A failure is rethrown as an UpstreamError; on any early end
// the upstream request is aborted (its socket freed at once) and the iterator closed.
import type { ChatChunk } from '../../providers/contract.ts'
import { UpstreamError, toUpstreamError } from '../../providers/upstream-error.ts'
import type { Attempt } from './attempt.ts'
import { carriesContent } from './commit.ts'

// The JSON-to-chunks replay lives in replay.ts; re-exported for the cache (plugins/cache.ts).
export { completionToChunks, fromArray } from './replay.ts'

/** A stream that sends this many chunks with nothing for the client commits anyway (bounded memory). */
export const MAX_HELD_CHUNKS = 256

/** What a stream attempt has when it may be committed. */
export interface OpenedStream {
  /** Chunks up to and including the first that carries content (or all of a stream that ended first). */
  held: ChatChunk[]
  iterator: AsyncIterator<ChatChunk>
  /** The upstream stream already ended cleanly (it had nothing to say beyond `held`). */
  ended: boolean
}

/** Pulls until the commit point; throws (nothing committed) when the stream fails before it. */
export async function openStream(iterable: AsyncIterable<ChatChunk>): Promise<OpenedStream> {
  const iterator = iterable[Symbol.asyncIterator]()
  const held: ChatChunk[] = []
  for (;;) {
    const next = await iterator.next()
    if (next.done) {
      if (held.length === 0) throw new UpstreamError('malformed', 'the upstream stream ended before its first chunk')
      return { held, iterator, ended: true }
    }
    held.push(next.value)
    if (carriesContent(next.value) || held.length >= MAX_HELD_CHUNKS) return { held, iterator, ended: false }
  }
}

export async function* legChunks(opened: OpenedStream, attempt: Attempt, idleMs: number): AsyncGenerator<ChatChunk> {
  let complete = false
  let failure: UpstreamError | undefined
  try {
    yield* opened.held
    if (!opened.ended) {
      for (;;) {
        // The idle clock runs only while we wait on the upstream, not while the client reads.
        attempt.armIdle(idleMs)
        const next = await opened.iterator.next()
        attempt.disarmIdle()
        if (next.done) break
        yield next.value
      }
    }
    complete = true
  } catch (err) {
    failure = toUpstreamError(err, attempt.signal)
    throw failure
  } finally {
    if (!complete) {
      attempt.abort(failure ?? new UpstreamError('aborted', 'the client closed the request'))
      await opened.iterator.return?.().catch(() => undefined)
    }
  }
}
