// The commit point of a stream. Once the client has received something of an answer, a failure
// can no longer fall through invisibly (the answer is resumed instead, or ended honestly), so
// the router commits only on a chunk that carries something for the client. A role-only delta,
// an empty content string or a keep-alive chunk (`choices: []`, no usage) carry nothing: they
// are held, and a failure right after them still falls back to the next candidate unseen.
import type { ChatChunk } from '../../providers/contract.ts'

const nonEmpty = (value: unknown): boolean => typeof value === 'string' ? value.length > 0 : value !== undefined && value !== null

/** Delta fields that say nothing on their own. */
const EMPTY_DELTA_FIELDS = new Set(['role', 'content', 'reasoning_content', 'refusal', 'tool_calls'])

export function carriesContent(chunk: ChatChunk): boolean {
  if (chunk.usage) return true
  for (const choice of chunk.choices) {
    if (choice.finish_reason) return true
    const delta = choice.delta ?? {}
    if (nonEmpty(delta.content) || nonEmpty(delta.reasoning_content) || nonEmpty(delta.refusal)) return true
    if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) return true
    // A field tiergate does not model (an audio delta, a provider extra) is content: pass it on.
    for (const [key, value] of Object.entries(delta)) {
      if (!EMPTY_DELTA_FIELDS.has(key) && nonEmpty(value)) return true
    }
  }
  return false
}
