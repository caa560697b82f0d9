// NDJSON framing (Ollama's native streams): one parsed object per line, one line capped at
// UPSTREAM_MAX_EVENT_BYTES (a newline-free body would otherwise be buffered whole), the whole
// stream at UPSTREAM_MAX_STREAM_BYTES (lines that never end would grow the answer kept whole).
import { UpstreamError, toUpstreamError } from '../upstream-error.ts'
import type { BodyStream } from './types.ts'
import { limitsOf, overCap } from './limits.ts'
import { parseUpstreamJson } from '../json-depth.ts'

/** One parsed object per NDJSON line. A line that is not JSON is a malformed stream. */
export async function* ndjsonObjects<T>(body: BodyStream, signal?: AbortSignal): AsyncGenerator<T> {
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
  try {
    for await (const chunk of body) {
      total += chunk.length
      if (total > maxStreamBytes) throw overCap(body, 'a streamed answer', maxStreamBytes, 'UPSTREAM_MAX_STREAM_BYTES')
      buffered += decoder.decode(chunk, { stream: true })
      let start = 0
      let newline: number
      while ((newline = buffered.indexOf('\n', start)) >= 0) {
        const line = buffered.slice(start, newline).trim()
        start = newline + 1
        if (line) yield parse(line)
      }
      buffered = start === 0 ? buffered : buffered.slice(start)
      // Characters, not bytes: at most 3× off for non-ASCII, and the cap is generous anyway.
      if (buffered.length > maxEventBytes) throw overCap(body, 'one NDJSON line', maxEventBytes, 'UPSTREAM_MAX_EVENT_BYTES')
    }
  } catch (err) {
    throw toUpstreamError(err, signal)
  } finally {
    if (!body.destroyed) body.destroy()
  }
  if (buffered.trim()) yield parse(buffered.trim())
}
