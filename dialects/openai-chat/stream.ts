// Chat Completions stream encoder: `data: {chat.completion.chunk}` per chunk, the clean end
// `data: [DONE]`, and for a failure after commit an OpenAI-shaped error event and NO [DONE].
import { RAW_JSON, type ChatChunk } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import type { SseEncoder } from '../sse-body.ts'

export const DONE_FRAME = 'data: [DONE]\n\n'

export function errorEvent(err: unknown, provider: string): string {
  const upstream = err instanceof UpstreamError ? err : undefined
  const message = upstream
    ? `The stream from ${provider} failed after it had started: ${upstream.message}`
    : `The stream from ${provider} failed after it had started.`
  const error = { message, type: 'api_error', param: null, code: upstream?.kind === 'timeout' ? 'upstream_timeout' : 'upstream_stream_failed' }
  return `data: ${JSON.stringify({ error })}\n\n`
}

/** A chunk that is the upstream's own JSON text (RAW_JSON) is forwarded without re-serializing. */
export const chunkFrame = (chunk: ChatChunk) => `data: ${chunk[RAW_JSON] ?? JSON.stringify(chunk)}\n\n`

export function openAIChatEncoder(provider: string): SseEncoder {
  return {
    chunk: chunkFrame,
    // chunkFrame of a RAW_JSON chunk is `data: <RAW_JSON>\n\n`: the upstream's own bytes for a batch serve.
    rawFrames: true,
    end: () => DONE_FRAME,
    error: (err) => errorEvent(err, provider),
  }
}
