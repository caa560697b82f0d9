// The batch protocol of the stream path (issue 14): an iterator that can hand out every chunk
// it already has in one step offers `nextBatch()` beside `next()`. The upstream's events mostly
// arrive many to a network read; passed on one `next()` apiece, each chunk paid a promise and a
// resumption in every layer (adapter → leg → continuity → SSE body). Passed as one array per
// read, a read costs one step per layer, whatever its number of events.
//
// Optional on both sides: a layer that has no `nextBatch` (a wrapper of a feature that is on, an
// adapter that yields chunk by chunk) still works through `next()`, and `readBatch` turns its
// chunks into one-element batches. The two may be mixed on one iterator (the router pulls with
// `next()` up to the commit point, then in batches): an implementation hands out what it holds
// in order, whichever is asked.
import type { BatchIterator, ChatChunk } from '../../providers/contract.ts'

export type { BatchIterator }

export type BatchIterableIterator<T = ChatChunk> = BatchIterator<T> & AsyncIterableIterator<T>

const hasBatches = <T>(iterator: AsyncIterator<T>): iterator is BatchIterator<T> =>
  typeof (iterator as Partial<BatchIterator<T>>).nextBatch === 'function'

/** The next batch of any iterator: its own `nextBatch()`, else one `next()` as a batch of one. */
export function readBatch<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T[], undefined>> {
  if (hasBatches(iterator)) return iterator.nextBatch()
  return iterator.next().then((next) => (next.done ? { done: true, value: undefined } : { done: false, value: [next.value] }))
}

/**
 * The batches of an iterator as something `for await` reads: an early exit of the loop (a
 * `break`, a throw in its body) closes the iterator, as a loop over the iterator itself would.
 */
export function batchesOf<T>(iterator: AsyncIterator<T>): AsyncIterable<T[]> {
  const batches: AsyncIterableIterator<T[]> = {
    next: () => readBatch(iterator),
    return: async () => {
      await iterator.return?.()
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]: () => batches,
  }
  return batches
}

/**
 * The batch protocol over a source of batches (`pull`: the next non-empty batch, or done):
 * `nextBatch()` hands out what the last batch has left, else the next one whole; `next()` hands
 * out one chunk and keeps the rest of its batch for the calls after it. `close` ends the source
 * early (`return()`: the consumer left). For a layer that works a batch at a time but must also
 * serve readers that only know `next()` (a session or cache wrapper).
 */
export function handOut<T>(pull: () => Promise<IteratorResult<T[], undefined>>, close: () => Promise<unknown>): BatchIterableIterator<T> {
  let buffer: T[] = []
  let at = 0
  const it: BatchIterableIterator<T> = {
    // Not `async`: returning the source's promise from an async function would cost extra turns.
    next(): Promise<IteratorResult<T, undefined>> {
      if (at < buffer.length) return Promise.resolve({ done: false, value: buffer[at++] })
      return pull().then((next) => {
        if (next.done) return next
        buffer = next.value
        at = 1
        return { done: false, value: buffer[0] }
      })
    },
    nextBatch(): Promise<IteratorResult<T[], undefined>> {
      if (at < buffer.length) {
        const rest = at === 0 ? buffer : buffer.slice(at)
        buffer = []
        at = 0
        return Promise.resolve({ done: false, value: rest })
      }
      return pull()
    },
    async return(): Promise<IteratorResult<T, undefined>> {
      buffer = []
      at = 0
      await close()
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]: () => it,
  }
  return it
}
