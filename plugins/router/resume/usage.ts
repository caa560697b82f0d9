// Usage of a resumed answer. A leg that was cut never reports its usage, and a continuation's
// report counts what it wrote (including any overlap the gateway cut) against a prompt that
// holds the delivered text: so the sum of the legs' reports is not what the client received.
// For a resumed answer the completion tokens are therefore an ESTIMATE: js-tiktoken's
// o200k_base count of everything the client received (text, reasoning, tool calls), made in a
// worker thread (token-count.ts; in the first ~1.5 s after a process's first resume, before
// that worker is ready, four characters per token). Prompt tokens are the first leg's own
// report when it gave one, else an estimate of the original messages. An answer served by one
// leg reports that leg's usage exactly, as it came.
import type { ChatMessage, ToolCall, Usage } from '../../../providers/contract.ts'
import { countTokens as count } from './token-count.ts'

export { counterReady } from './token-count.ts'

export function countTokens(text: string): number {
  return count(text).tokens
}

function messageText(message: ChatMessage): string {
  const content = typeof message.content === 'string'
    ? message.content
    : (message.content ?? []).map((part) => (part.type === 'text' ? String((part as { text?: unknown }).text ?? '') : '')).join('')
  const calls = (message.tool_calls ?? []).map((c) => c.function.name + c.function.arguments).join('')
  return content + calls
}

/** OpenAI's documented chat framing: about 3 tokens per message plus 3 for the reply's start. */
const TOKENS_PER_MESSAGE = 3
const TOKENS_REPLY_PRIMING = 3

export function estimatePromptTokens(messages: ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + TOKENS_PER_MESSAGE + countTokens(messageText(m)), TOKENS_REPLY_PRIMING)
}

export function estimateCompletionTokens(delivered: { text: string; reasoning: string; toolCalls: ToolCall[] }): number {
  const calls = delivered.toolCalls.map((c) => c.function.name + c.function.arguments).join('')
  return countTokens(delivered.text) + countTokens(delivered.reasoning) + countTokens(calls)
}

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
}
