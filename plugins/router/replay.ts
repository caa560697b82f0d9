// A provider answered JSON to a streaming request (GPT4All cannot stream): replay it as chunks.
import type { ChatChunk, ChatCompletion } from '../../providers/contract.ts'

export function completionToChunks(completion: ChatCompletion, includeUsage: boolean): ChatChunk[] {
  const base = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model }
  const chunks: ChatChunk[] = []
  for (const choice of completion.choices) {
    const { content, tool_calls: toolCalls, reasoning_content: reasoning } = choice.message
    chunks.push({ ...base, choices: [{ index: choice.index, delta: { role: 'assistant', content: '' }, finish_reason: null }] })
    if (reasoning) chunks.push({ ...base, choices: [{ index: choice.index, delta: { reasoning_content: reasoning }, finish_reason: null }] })
    if (content) chunks.push({ ...base, choices: [{ index: choice.index, delta: { content }, finish_reason: null }] })
    if (toolCalls?.length) {
      chunks.push({
        ...base,
        choices: [{ index: choice.index, delta: { tool_calls: toolCalls.map((call, index) => ({ index, ...call })) }, finish_reason: null }],
      })
    }
    chunks.push({ ...base, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason ?? 'stop' }] })
  }
  if (includeUsage && completion.usage) chunks.push({ ...base, choices: [], usage: completion.usage })
  return chunks
}

export async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items
}
