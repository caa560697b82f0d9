// A streamed answer rebuilt as one completion (what the cache stores), and the test of
// whether an answer is complete enough to store at all. Pure.
import type { ChatChunk, ChatCompletion, Usage } from '../../providers/contract.ts'
import { ToolCallAccumulator } from '../../providers/tool-call-index.ts'

interface ChoiceBuilder {
  content: string
  reasoning: string
  /** Keyed by index in a Map (issue 9 item 7): never a sparse array an index can blow up. */
  toolCalls: ToolCallAccumulator
  finishReason: ChatCompletion['choices'][number]['finish_reason']
  sawContent: boolean
}

/** Folds the chunks of a stream into the completion a JSON request would have received. */
export class CompletionBuilder {
  readonly #choices = new Map<number, ChoiceBuilder>()
  #id = ''
  #created = 0
  #model = ''
  #usage: Usage | undefined
  #fingerprint: string | null | undefined

  add(chunk: ChatChunk): void {
    if (!this.#id) {
      this.#id = chunk.id
      this.#created = chunk.created
    }
    if (chunk.model) this.#model = chunk.model
    if (chunk.usage) this.#usage = chunk.usage
    if (typeof chunk.system_fingerprint === 'string') this.#fingerprint = chunk.system_fingerprint
    for (const choice of chunk.choices) {
      let c = this.#choices.get(choice.index)
      if (!c) {
        c = { content: '', reasoning: '', toolCalls: new ToolCallAccumulator(), finishReason: null, sawContent: false }
        this.#choices.set(choice.index, c)
      }
      const delta = choice.delta ?? {}
      if (typeof delta.content === 'string') {
        c.content += delta.content
        c.sawContent = true
      }
      if (typeof delta.reasoning_content === 'string') c.reasoning += delta.reasoning_content
      for (const fragment of delta.tool_calls ?? []) c.toolCalls.add(fragment)
      if (choice.finish_reason) c.finishReason = choice.finish_reason
    }
  }

  build(): ChatCompletion {
    const choices = [...this.#choices.entries()].sort(([a], [b]) => a - b).map(([index, c]) => {
      const calls = c.toolCalls.calls()
      const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: c.sawContent || calls.length === 0 ? c.content : null }
      if (calls.length) message.tool_calls = calls
      if (c.reasoning) message.reasoning_content = c.reasoning
      return { index, message, finish_reason: c.finishReason }
    })
    const completion: ChatCompletion = { id: this.#id, object: 'chat.completion', created: this.#created, model: this.#model, choices }
    if (this.#usage) completion.usage = this.#usage
    if (this.#fingerprint !== undefined) completion.system_fingerprint = this.#fingerprint
    return completion
  }
}

/** Every choice ended with a finish reason: nothing was cut off. */
export function isComplete(completion: ChatCompletion): boolean {
  return completion.choices.length > 0 && completion.choices.every((c) => c.finish_reason !== null && c.finish_reason !== undefined)
}

/** The usage-only chunk a stream ends with when the client asked for include_usage. */
export const isUsageOnly = (chunk: ChatChunk) => chunk.choices.length === 0 && Boolean(chunk.usage)
