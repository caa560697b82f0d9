// Chunks of a resumable answer as the client sees them: every one carries the first leg's
// `id` and `created` (one answer, whatever served it) and the `model` of the leg that wrote
// it. A chunk that is changed loses its upstream wire text (RAW_JSON, NATIVE_WIRE), which no
// longer describes it.
import type { ChatChunk, ChunkToolCall, FinishReason, Usage } from '../../../providers/contract.ts'
import { NATIVE_WIRE, RAW_JSON, STREAM_NOTE } from '../../../providers/contract.ts'

export interface Stamp {
  id: string
  created: number
}

type Delta = ChatChunk['choices'][number]['delta']

/** A fresh chunk modelled on `source` (its extra fields such as system_fingerprint kept). */
export function chunkLike(source: ChatChunk, stamp: Stamp, model: string, choice: { delta: Delta; finish: FinishReason } | undefined, usage: Usage | null | undefined): ChatChunk {
  const chunk: ChatChunk = {
    ...source,
    id: stamp.id,
    created: stamp.created,
    model,
    choices: choice ? [{ index: 0, delta: choice.delta, finish_reason: choice.finish }] : [],
  }
  delete chunk[RAW_JSON]
  delete chunk[NATIVE_WIRE]
  delete chunk[STREAM_NOTE]
  if (usage === undefined) delete chunk.usage
  else chunk.usage = usage
  return chunk
}

/** A chunk of another choice layout (n > 1) passed on with only the stamp changed. */
export function restamp(source: ChatChunk, stamp: Stamp): ChatChunk {
  if (source.id === stamp.id && source.created === stamp.created) return source
  const chunk: ChatChunk = { ...source, id: stamp.id, created: stamp.created }
  delete chunk[RAW_JSON]
  delete chunk[NATIVE_WIRE]
  return chunk
}

/** Only a role (and an empty content): what every leg starts with, and a continuation must not repeat. */
export function isRoleOnly(delta: Delta): boolean {
  for (const [key, value] of Object.entries(delta)) {
    if (key === 'role') continue
    if (key === 'content' && (value === '' || value === null)) continue
    if (value !== undefined && value !== null) return false
  }
  return true
}

export function hasToolFragments(delta: Delta | undefined): delta is Delta & { tool_calls: ChunkToolCall[] } {
  return Array.isArray(delta?.tool_calls) && delta.tool_calls.length > 0
}

/** A note (SSE comment) carried by the first chunk sent for `source`. */
export function carryNote(source: ChatChunk, out: ChatChunk[]): ChatChunk[] {
  const note = source[STREAM_NOTE]
  if (note !== undefined && out.length > 0 && out[0] !== source) out[0][STREAM_NOTE] = note
  return out
}
