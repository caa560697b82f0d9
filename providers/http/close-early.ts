// Ending the read of an upstream body before its end (SSE and NDJSON framing alike).
import type { BodyStream } from './types.ts'

/**
 * An early return (`[DONE]`, an error event, the client gone) must free the upstream socket now.
 * When the whole response has already arrived (the usual case at `[DONE]`: its end came in the
 * same read), it is read to its end instead: destroying it would build an abort error (a stack
 * trace per stream) and abort an upstream request that is complete, for nothing.
 */
export async function closeEarly(body: BodyStream, reader: AsyncIterator<Buffer>): Promise<void> {
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
