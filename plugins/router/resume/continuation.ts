// The request that asks a candidate to continue an answer the client has partly received.
// - prefill: the delivered text is the final assistant message; the model writes on from it.
// - instruction: the delivered text as an assistant message, then a user message asking to
//   continue exactly where it stopped (for candidates that do not take a prefill).
// Both keep the original's tools and sampling, stream with usage, and never carry what must not
// go upstream again: the native body (it holds the original messages, not the continuation),
// the per-request chain (`models`, `fallbacks`: the router already resolved it) or `session_id`.
import type { ChatMessage, ChatRequest } from '../../../providers/contract.ts'
import { NATIVE } from '../../../providers/contract.ts'

export type ResumeStrategy = 'prefill' | 'instruction'

export const CONTINUE_INSTRUCTION =
  'Your previous answer was cut off. Continue it exactly where it stopped, starting with the very next character. ' +
  'Do not repeat anything you already wrote, do not restart, and do not comment on the interruption.'

/** Fields of a client request that must not reach a continuation's upstream. */
const DROPPED_FIELDS = ['models', 'fallbacks', 'session_id'] as const

/** The original request made fit for a new leg: a copy, streaming with usage. */
function continuationBase(original: ChatRequest): ChatRequest {
  const base: ChatRequest = { ...original, messages: [...original.messages], stream: true, stream_options: { include_usage: true } }
  delete base[NATIVE]
  for (const field of DROPPED_FIELDS) delete base[field]
  return base
}

/** A string content of an assistant message, or undefined for parts/tool calls (not mergeable). */
function plainAssistantText(message: ChatMessage | undefined): string | undefined {
  if (message?.role !== 'assistant' || message.tool_calls?.length) return undefined
  return typeof message.content === 'string' ? message.content : undefined
}

/**
 * `delivered`: the text the client has received of this answer. With nothing delivered (only
 * reasoning, or a tool call that was held back) the continuation is the original request: the
 * candidate answers afresh, and the repeat of anything delivered is cut from its stream.
 */
export function continuationRequest(original: ChatRequest, delivered: string, strategy: ResumeStrategy): ChatRequest {
  const request = continuationBase(original)
  // Only whitespace delivered is nothing to continue from (and an empty prefill is rejected).
  if (delivered.trim().length === 0) return request
  // A client's own prefill (its last message is the assistant's start) is continued in place.
  const last = request.messages.at(-1)
  const clientPrefill = plainAssistantText(last)
  if (clientPrefill !== undefined) request.messages.pop()
  const answer = (clientPrefill ?? '') + delivered
  if (strategy === 'prefill') {
    // Anthropic rejects a final assistant message that ends in whitespace, and every model
    // writes the separating space itself; the overlap cutter drops it if the client has it.
    request.messages.push({ role: 'assistant', content: answer.trimEnd() })
  } else {
    request.messages.push({ role: 'assistant', content: answer }, { role: 'user', content: CONTINUE_INSTRUCTION })
  }
  return request
}
