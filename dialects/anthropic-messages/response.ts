// Messages response encode: an internal chat.completion → an Anthropic `message`. Blocks in
// Anthropic's order (thinking, text, tool_use with its input parsed), stop_reason from the
// shared table (stop_sequence with the string when the upstream named it), usage split into
// input / cache read / cache write. A native answer (NATIVE_WIRE) is the upstream's own body.
import { NATIVE_WIRE, type ChatCompletion } from '../../providers/contract.ts'
import { stopReason, stopSequenceOf, toAnthropicUsage, type AnthropicBlock, type AnthropicResponse } from './wire.ts'
import { messageId, toolUseId } from './ids.ts'
import { parseUpstreamJson } from '../../providers/json-depth.ts'

/** Tool arguments that are not a JSON object (or nest deeper than any schema) still reach the client, under one key. */
function toolInput(args: string): Record<string, unknown> {
  try {
    const input = parseUpstreamJson(args || '{}')
    return input && typeof input === 'object' && !Array.isArray(input) ? input : { value: input }
  } catch {
    return { arguments: args }
  }
}

export function encodeMessagesResponse(completion: ChatCompletion, stopSequences: string[] | undefined): AnthropicResponse {
  const choice = completion.choices.find((c) => c.index === 0) ?? completion.choices[0]
  const message = choice?.message
  const content: AnthropicBlock[] = []
  if (message?.reasoning_content) content.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' })
  if (typeof message?.content === 'string' && message.content) content.push({ type: 'text', text: message.content })
  // An OpenAI refusal is text the model said instead of answering: Anthropic's refusal stop.
  const refusal = typeof message?.refusal === 'string' && message.refusal ? message.refusal : undefined
  if (refusal) content.push({ type: 'text', text: refusal })
  for (const call of message?.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: toolUseId(call.id), name: call.function.name, input: toolInput(call.function.arguments) })
  }
  const stopSequence = stopSequenceOf(choice, stopSequences)
  const reason = refusal ? 'refusal' : stopReason(choice?.finish_reason, stopSequence)
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: completion.model,
    content,
    stop_reason: reason,
    stop_sequence: reason === 'stop_sequence' ? stopSequence : null,
    usage: toAnthropicUsage(completion.usage),
  }
}

/** The body text to send: the upstream's own when it spoke Messages natively. */
export function messagesResponseBody(completion: ChatCompletion, stopSequences: string[] | undefined): string {
  const wire = completion[NATIVE_WIRE]
  if (wire?.dialect === 'anthropic-messages') return wire.text
  return JSON.stringify(encodeMessagesResponse(completion, stopSequences))
}
