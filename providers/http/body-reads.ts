// Reading an upstream body read by read, and ending that early (SSE and NDJSON framing alike).
import type { BodyStream } from './types.ts'

/**
 * An early return (`[DONE]`, an error event, the client gone) must free the upstream socket now.
 * When the whole response has already arrived (the usual case at `[DONE]`: its end came in the
 * same read), it is read to its end instead: destroying it would build an abort error (a stack
 * trace per stream) and abort an upstream request that is complete, for nothing.
 */
async function closeEarly(body: BodyStream, reader: AsyncIterator<Buffer>): Promise<void> {
  // `ended`: the body has received its last byte (endEmitted comes only once it is read).
  const received = (body as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true
  if (received && !body.destroyed) {
    try {
      while (!(await reader.next()).done);
      return
    } catch {
      // fall through: destroyed below
    }
  }
  await reader.return?.()
}

/**
 * The reads of a body for a framing loop: `next()` gives the next read (undefined at the end),
 * `failed()` says the body broke (nothing is left to read), `close()` ends it — read to its end
 * when it has all arrived, else destroyed (see closeEarly).
 */
export function bodyReads(body: BodyStream): { next(): Promise<Buffer | undefined>; failed(): void; close(): Promise<void> } {
  const reader = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  let read = false
  return {
    async next() {
      const next = await reader.next()
      if (!next.done) return next.value
      read = true
      return undefined
    },
    failed() {
      read = true
    },
    async close() {
      if (!read) await closeEarly(body, reader)
      if (!body.destroyed) body.destroy()
    },
  }
}
