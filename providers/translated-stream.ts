// The chunks of an upstream stream in another dialect (Ollama's NDJSON lines, Anthropic's SSE
// events), translated item by item, handed out in the batch protocol (plugins/router/batch.ts):
// the items of one network read become one batch of chunks, so a read costs each layer one
// async step however many tokens it holds. Two async generators (framing, then translation)
// cost every chunk a step in each, and those steps were most of these adapters' cost (issue 14).
//
// Order is kept exactly: the chunks of the items before a failing one (an error line or event,
// a malformed item) come first, the failure next. The stream is complete when `translate` says
// so (Ollama's done line, Anthropic's message_stop); the framing is then closed, which frees the
// socket. Ending before that is the adapter's `cut` failure: a truncated answer is never whole.
import type { BatchIterator, ChatChunk } from './contract.ts'
import type { BatchReader } from './http/types.ts'
import { handOut } from '../plugins/router/batch.ts'

export interface Translation<I> {
  /** Pushes the chunks of one item onto `out`; true when the stream is complete. May throw (the stream's failure). */
  translate(item: I, out: ChatChunk[]): boolean
  /** The failure of a stream that ended before it was complete. */
  cut(): Error
}

export function translatedChunks<I>(items: BatchReader<I[]>, translation: Translation<I>): AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk> {
  let complete = false
  /** The framing is closed (complete, failed, ended or returned). */
  let over = false
  /** A failure met after some chunks of the same read: they go out first, it is thrown next. */
  let failure: unknown

  const close = async (): Promise<void> => {
    if (over) return
    over = true
    await items.return(undefined)
  }

  /** The chunks of the next network read that makes any, or the failure or the end. */
  const pull = async (): Promise<IteratorResult<ChatChunk[], undefined>> => {
    for (;;) {
      if (failure !== undefined) {
        const err = failure
        failure = undefined
        throw err
      }
      if (complete || over) return { done: true, value: undefined }
      let next: IteratorResult<I[]>
      try {
        next = await items.next()
      } catch (err) {
        over = true // the framing failed: it has closed itself
        throw err
      }
      if (next.done) {
        over = true
        throw translation.cut()
      }
      const chunks: ChatChunk[] = []
      try {
        for (const item of next.value) {
          if (translation.translate(item, chunks)) {
            complete = true
            break
          }
        }
      } catch (err) {
        failure = err
      }
      if (complete || failure !== undefined) await close()
      if (chunks.length > 0) return { done: false, value: chunks }
    }
  }

  // An early return (the consumer left) drops a failure nobody will read.
  return handOut(pull, () => {
    failure = undefined
    return close()
  })
}
