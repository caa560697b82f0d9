// One leg of a committed stream: the chunks held up to the commit point, then the rest pulled
// on demand under the idle limit. A failure is rethrown as an UpstreamError; on any early end
// the upstream request is aborted (its socket freed at once) and the iterator closed.
import type { BatchIterator, ChatChunk } from '../../providers/contract.ts'
import { UpstreamError, toUpstreamError } from '../../providers/upstream-error.ts'
import type { Attempt } from './attempt.ts'
import { carriesContent } from './commit.ts'
import { readBatch } from './batch.ts'

/** A stream that sends this many chunks with nothing for the client commits anyway (bounded memory). */
export const MAX_HELD_CHUNKS = 256

/** What a stream attempt has when it may be committed. */
export interface OpenedStream {
  /**
   * Chunks up to and including the first that carries content, with the rest of the network
   * read it came in (or all of a stream that ended first). When that read was the first, this
   * is its very batch, so its upstream bytes (RAW_FRAMES) can still be forwarded as they came.
   */
  held: ChatChunk[]
  iterator: AsyncIterator<ChatChunk>
  /** The upstream stream already ended cleanly (it had nothing to say beyond `held`). */
  ended: boolean
}

/** Pulls (batch by batch, plugins/router/batch.ts) until the commit point; throws (nothing committed) when the stream fails before it. */
export async function openStream(iterable: AsyncIterable<ChatChunk>): Promise<OpenedStream> {
  const iterator = iterable[Symbol.asyncIterator]()
  /** Chunks of earlier reads, none of which carried content. */
  let held: ChatChunk[] = []
  for (;;) {
    const next = await readBatch(iterator)
    if (next.done) {
      if (held.length === 0) throw new UpstreamError('malformed', 'the upstream stream ended before its first chunk')
      return { held, iterator, ended: true }
    }
    const batch = next.value
    // The rest of the read that commits goes with it: it is already here, and the client gets it in one write.
    if (commits(batch, held.length)) return { held: held.length === 0 ? batch : held.concat(batch), iterator, ended: false }
    held = held.length === 0 ? batch : held.concat(batch)
  }
}

/** Whether a chunk of `batch` is the commit point, `before` chunks having been held. */
function commits(batch: ChatChunk[], before: number): boolean {
  for (let i = 0; i < batch.length; i++) {
    if (carriesContent(batch[i]) || before + i + 1 >= MAX_HELD_CHUNKS) return true
  }
  return false
}

/**
 * The leg's chunks: the held ones, then the rest pulled from upstream under the idle limit.
 * An iterator object rather than an async generator: a generator layer costs each chunk a
 * queued request, an await and a resumption on top of the upstream's own step (issue 14). It
 * speaks the batch protocol (plugins/router/batch.ts): `nextBatch()` hands out the held chunks
 * at once, then the upstream's batches as they come — one idle-timer arm per network read,
 * not per chunk. On a failure it aborts the attempt and rethrows it as an UpstreamError; on an
 * early close (`return()`, the consumer left) it aborts the upstream request and closes the iterator.
 */
export function legChunks(opened: OpenedStream, attempt: Attempt, idleMs: number): AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk> {
  const { held, iterator } = opened
  let heldIndex = 0
  let over = opened.ended && held.length === 0
  const close = async (reason: UpstreamError) => {
    if (over) return
    over = true
    attempt.abort(reason)
    await iterator.return?.().catch(() => undefined)
  }
  /** One read from upstream (`batch`: as many chunks as it has, else one), with the idle clock running. */
  async function fromUpstream<T extends ChatChunk | ChatChunk[]>(batch: boolean): Promise<IteratorResult<T, undefined>> {
    // The idle clock runs only while we wait on the upstream, not while the client reads.
    attempt.armIdle(idleMs)
    let next: IteratorResult<ChatChunk | ChatChunk[], undefined>
    try {
      next = await (batch ? readBatch(iterator) : iterator.next())
    } catch (err) {
      const failure = toUpstreamError(err, attempt.signal)
      await close(failure)
      throw failure
    } finally {
      attempt.disarmIdle()
    }
    if (next.done) over = true
    return next as IteratorResult<T, undefined>
  }
  const leg: AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk> = {
    // Not `async`: returning the upstream's promise from an async function would cost extra turns.
    next(): Promise<IteratorResult<ChatChunk>> {
      if (heldIndex < held.length) {
        const value = held[heldIndex++]
        if (heldIndex === held.length && opened.ended) over = true
        return Promise.resolve({ done: false, value })
      }
      if (over) return Promise.resolve({ done: true, value: undefined })
      return fromUpstream<ChatChunk>(false)
    },
    nextBatch(): Promise<IteratorResult<ChatChunk[], undefined>> {
      if (heldIndex < held.length) {
        const value = heldIndex === 0 ? held : held.slice(heldIndex)
        heldIndex = held.length
        if (opened.ended) over = true
        return Promise.resolve({ done: false, value })
      }
      if (over) return Promise.resolve({ done: true, value: undefined })
      return fromUpstream<ChatChunk[]>(true)
    },
    async return(): Promise<IteratorResult<ChatChunk>> {
      await close(new UpstreamError('aborted', 'the client closed the request'))
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]: () => leg,
  }
  return leg
}
