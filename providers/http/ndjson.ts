// NDJSON framing (Ollama's native streams): one parsed object per line, one line capped at
// UPSTREAM_MAX_EVENT_BYTES (a newline-free body would otherwise be buffered whole), the whole
// stream at UPSTREAM_MAX_STREAM_BYTES (lines that never end would grow the answer kept whole).
import { UpstreamError, toUpstreamError } from '../upstream-error.ts'
import type { BodyStream } from './types.ts'
import { limitsOf, overCap } from './limits.ts'
import { bodyReads } from './body-reads.ts'
import { parseUpstreamJson } from '../json-depth.ts'

/**
 * The parsed objects of an NDJSON body as one array per network read (the lines that read
 * completed): a reader pays one async step per read, not per line (issue 14). A line that is
 * not JSON is a malformed stream; a failure after some lines of a read comes after them.
 */
export async function* ndjsonBatches<T>(body: BodyStream, signal?: AbortSignal): AsyncGenerator<T[]> {
  const { maxEventBytes, maxStreamBytes } = limitsOf(body)
  let buffered = ''
  let total = 0
  const decoder = new TextDecoder()
  const parse = (line: string): T => {
    try {
      return parseUpstreamJson<T>(line)
    } catch (err) {
      if (err instanceof UpstreamError) throw err
      throw new UpstreamError('malformed', `malformed NDJSON line from upstream: ${line.slice(0, 80)}`)
    }
  }
  let failure: unknown
  const reads = bodyReads(body)
  try {
    for (;;) {
      const chunk = await reads.next()
      if (chunk === undefined) break
      total += chunk.length
      if (total > maxStreamBytes) throw overCap(body, 'a streamed answer', maxStreamBytes, 'UPSTREAM_MAX_STREAM_BYTES')
      buffered += decoder.decode(chunk, { stream: true })
      const batch: T[] = []
      let start = 0
      let newline: number
      try {
        while ((newline = buffered.indexOf('\n', start)) >= 0) {
          const line = buffered.slice(start, newline).trim()
          start = newline + 1
          if (line) batch.push(parse(line))
        }
      } catch (err) {
        failure = err
      }
      if (batch.length > 0) yield batch
      if (failure !== undefined) throw failure
      buffered = start === 0 ? buffered : buffered.slice(start)
      // Characters, not bytes: at most 3× off for non-ASCII, and the cap is generous anyway.
      if (buffered.length > maxEventBytes) throw overCap(body, 'one NDJSON line', maxEventBytes, 'UPSTREAM_MAX_EVENT_BYTES')
    }
  } catch (err) {
    reads.failed() // the body failed or was destroyed, or a line was malformed: nothing more is read
    throw toUpstreamError(err, signal)
  } finally {
    // An early return (the done line, the client gone) with the whole body already here reads it
    // to its end: destroying it would build an abort error with its stack trace, per stream.
    await reads.close()
  }
  if (buffered.trim()) yield [parse(buffered.trim())]
}

/** One parsed object per NDJSON line. */
export async function* ndjsonObjects<T>(body: BodyStream, signal?: AbortSignal): AsyncGenerator<T> {
  for await (const batch of ndjsonBatches<T>(body, signal)) yield* batch
}
