// Reading an upstream body read by read, and ending that early (SSE and NDJSON framing alike).
//
// Read by its events ('readable', 'end', 'error', 'close') and `read()`, as Node's own async
// iterator of a Readable reads it, without that iterator: its async generator, its
// end-of-stream watcher (listeners of its own, added and removed per body) and the promises of
// each step cost a stream 6 promises and ~2 KB of garbage more (issue 14: the stream path
// allocated 75 KB per request against a bare undici proxy's 19).
import type { BodyStream } from './types.ts'

/** What `stream.finished` reports for a body destroyed before its end without an error. */
function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })
}

export interface BodyReads {
  /** The next read, undefined at the end; rejects with the body's error. */
  next(): Promise<Buffer | undefined>
  /** The body broke (nothing is left to read): `close` only lets it go. */
  failed(): void
  /** Read to its end when it has all arrived, else destroyed (see `close` below). */
  close(): Promise<void>
}

/**
 * The reads of a body for a framing loop. An early `close` (`[DONE]`, an error event, the client
 * gone) must free the upstream socket now. When the whole response has already arrived (the
 * usual case at `[DONE]`: its end came in the same read) it is read to its end instead:
 * destroying it would build an abort error (a stack trace per stream) and abort an upstream
 * request that is complete, for nothing.
 */
export function bodyReads(body: BodyStream): BodyReads {
  /** undefined while the body is open; null once it has ended; else why it broke. */
  let outcome: Error | null | undefined
  let wake: (() => void) | undefined
  let finished = false
  const wakeReader = () => {
    const resolve = wake
    wake = undefined
    resolve?.()
  }
  const onEnd = () => {
    if (outcome === undefined) outcome = null
    wakeReader()
  }
  const onError = (err: Error) => {
    if (outcome === undefined) outcome = err
    wakeReader()
  }
  // Destroyed without an error (the attempt aborted it, the socket closed): it ends neither way.
  const onClose = () => {
    if (outcome === undefined) outcome = body.errored ?? (body.readableEnded ? null : prematureClose())
    wakeReader()
  }
  body.on('readable', wakeReader).on('end', onEnd).on('error', onError).on('close', onClose)
  if (body.readableEnded) outcome = null
  else if (body.destroyed) outcome = body.errored ?? prematureClose()

  const stopListening = () => {
    body.off('readable', wakeReader).off('end', onEnd).off('error', onError).off('close', onClose)
  }

  async function next(): Promise<Buffer | undefined> {
    for (;;) {
      // A destroyed body's buffered bytes are not handed out (as Node's iterator does).
      const chunk: Buffer | null = body.destroyed ? null : body.read()
      if (chunk !== null) return chunk
      if (outcome === null) {
        finished = true
        return undefined
      }
      if (outcome !== undefined) throw outcome
      await new Promise<void>((resolve) => { wake = resolve })
    }
  }

  return {
    next,
    failed() {
      finished = true
    },
    async close() {
      // Fully received (ended: the last byte is here, though not yet read) and still whole.
      const received = (body as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true
      if (!finished && received && !body.destroyed) {
        try {
          while ((await next()) !== undefined);
        } catch {
          // destroyed below
        }
      }
      stopListening()
      if (!body.destroyed) body.destroy()
      // A read still waiting (a caller that closes mid-read) would wait for events no one hears now.
      if (wake !== undefined && outcome === undefined) outcome = prematureClose()
      wakeReader()
    },
  }
}
