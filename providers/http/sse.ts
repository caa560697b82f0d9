// SSE framing: events from an upstream body per the WHATWG parsing rules (comments, CRLF,
// multi-line data, split chunks), with one event capped at UPSTREAM_MAX_EVENT_BYTES and the
// whole stream at UPSTREAM_MAX_STREAM_BYTES.
//
// eventsource-parser has no maximum: a newline-free stream grows its buffer until the heap
// dies (6 GB in 9 s, issue 9 item 6). The cap is enforced on the feed side: the bytes fed
// since the last blank line (an event boundary) are what the parser may be holding, so the
// stream fails the moment they pass the cap — before the parser ever sees more.
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { toUpstreamError } from '../upstream-error.ts'
import type { BatchReader, BodyStream } from './types.ts'
import { limitsOf, overCap } from './limits.ts'
import { bodyReads } from './body-reads.ts'

const LF = 0x0a
const CR = 0x0d
/** Two line ends in a row end an event: `\n\n`, `\r\r`, `\n\r` (also covers `\r\n\r\n`, `\r\n\n`). */
const BOUNDARIES = ['\n\n', '\r\r', '\n\r']

/** Whether the two bytes are one of BOUNDARIES. */
const endsEvent = (a: number, b: number): boolean => (a === LF && (b === LF || b === CR)) || (a === CR && b === CR)

/** Index just after the last event boundary in `chunk`, or -1; `previous` is the byte before it. */
export function afterLastBoundary(chunk: Uint8Array, previous: number | undefined): number {
  const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  // The usual read ends on a boundary: none can end later, so the searches below (each a scan of the whole read) are not needed.
  if (buffer.length >= 2 && endsEvent(buffer[buffer.length - 2], buffer[buffer.length - 1])) return buffer.length
  let end = -1
  for (const boundary of BOUNDARIES) {
    const at = buffer.lastIndexOf(boundary)
    if (at >= 0 && at + 2 > end) end = at + 2
  }
  // `\r\n\r\n`: the match `\n\r` ends one byte early.
  if (end > 0 && end < buffer.length && buffer[end - 1] === CR && buffer[end] === LF) end++
  // A boundary split across two reads: the previous one ended a line, this one starts with a line end.
  // (`\r` then `\n` is one CRLF line end, not two.)
  const first = buffer[0]
  if (end < 0 && buffer.length > 0 && ((previous === LF && (first === LF || first === CR)) || (previous === CR && first === CR))) end = 1
  return end
}

/**
 * On a batch of events: the network read they came from, when that read holds exactly these
 * events, each written `data: <data>\n\n` (no comment, field, CR or partial event). A reader that
 * leaves every event as it came may forward these bytes instead of writing the events again.
 */
export const READ_BYTES: unique symbol = Symbol('tiergate.readBytes')
export type EventBatch = EventSourceMessage[] & { [READ_BYTES]?: Buffer }

/** Whether `text` is exactly `events`, each as `data: <data>\n\n`, in order. */
function isCanonical(text: string, events: EventSourceMessage[]): boolean {
  let at = 0
  for (const event of events) {
    if (event.event !== undefined || event.id !== undefined || !text.startsWith('data: ', at)) return false
    at += 6 + event.data.length
    if (text.charCodeAt(at) !== LF || text.charCodeAt(at + 1) !== LF) return false
    at += 2
  }
  return at === text.length
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * SSE events from a body as one array per network read: a reader that handles each event
 * still pays for one async step per read, not per event (that cost dominated the stream benchmark).
 * An iterator object, not an async generator: the generator's queue and resumptions cost a
 * stream 2 promises more, counted (issue 14). It keeps what the generator guaranteed:
 * one step at a time (a `return()` during a read waits for that read to settle), and the body
 * closed (read to its end when it has all arrived, else destroyed) on every way out.
 */
export function sseEventBatches(body: BodyStream, signal?: AbortSignal): BatchReader<EventBatch> {
  const { maxEventBytes, maxStreamBytes } = limitsOf(body)
  let batch: EventBatch = []
  const parser = createParser({ onEvent: (event) => batch.push(event) })
  const decoder = new TextDecoder() // streaming mode: a UTF-8 character split across chunks stays whole
  /** Bytes since the last event boundary: at most what the parser holds. */
  let pending = 0
  /** Bytes of the whole stream so far. */
  let total = 0
  let previous: number | undefined
  const reads = bodyReads(body)
  /** The body is closed: nothing more comes. */
  let closed = false
  /** The read in progress (until it settles), which a `return()` waits for. */
  let reading: Promise<unknown> | undefined

  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await reads.close()
  }

  async function read(): Promise<IteratorResult<EventBatch, undefined>> {
    try {
      for (;;) {
        const chunk = await reads.next()
        if (chunk === undefined) break
        const end = afterLastBoundary(chunk, previous)
        // A read that starts and ends on an event boundary holds whole events only: its text is theirs alone.
        const whole = pending === 0 && end === chunk.length
        pending = end >= 0 ? chunk.length - end : pending + chunk.length
        if (chunk.length > 0) previous = chunk[chunk.length - 1]
        if (pending > maxEventBytes) throw overCap(body, 'one SSE event', maxEventBytes, 'UPSTREAM_MAX_EVENT_BYTES')
        total += chunk.length
        if (total > maxStreamBytes) throw overCap(body, 'a streamed answer', maxStreamBytes, 'UPSTREAM_MAX_STREAM_BYTES')
        const text = decoder.decode(chunk, { stream: true })
        parser.feed(text)
        if (batch.length === 0) continue
        if (whole && isCanonical(text, batch)) batch[READ_BYTES] = chunk
        const ready = batch
        batch = []
        reading = undefined
        return { done: false, value: ready }
      }
    } catch (err) {
      reads.failed() // the body failed or was destroyed: nothing left to read
      await close()
      reading = undefined
      throw toUpstreamError(err, signal)
    }
    await close()
    reading = undefined
    // A final event without its blank line still counts (some servers omit it).
    parser.feed('\n\n')
    if (batch.length === 0) return DONE
    const value = batch
    batch = []
    return { done: false, value }
  }

  function next(): Promise<IteratorResult<EventBatch, undefined>> {
    if (closed) return Promise.resolve(DONE)
    const step = read()
    // Set after read() has run to its first await; it clears `reading` only once it settles.
    reading = step
    return step
  }

  const batches: BatchReader<EventBatch> = {
    next,
    async return(): Promise<IteratorResult<EventBatch, undefined>> {
      if (reading !== undefined) await reading.catch(() => undefined)
      if (!closed) await close()
      return DONE
    },
    [Symbol.asyncIterator]: () => batches,
  }
  return batches
}

/** SSE events from a body, one at a time. */
export async function* sseEvents(body: BodyStream, signal?: AbortSignal): AsyncGenerator<EventSourceMessage> {
  for await (const batch of sseEventBatches(body, signal)) yield* batch
}
