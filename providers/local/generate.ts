// One chat generation on the local model as internal chunks: node-llama-cpp's callbacks
// (text and thought segments, token by token) are bridged into an async generator. The
// generation stops at once when the call's signal aborts (client gone, timeout) or when the
// consumer stops reading; either way the queue slot and the sequence are released exactly once.
import { randomUUID } from 'node:crypto'
import type { LlamaChatResponseChunk, LlamaGrammar } from 'node-llama-cpp'
import type { ChatChunk, ChatCompletion, ChatRequest, FinishReason, ToolCall, Usage } from '../contract.ts'
import type { Slot } from './runtime.ts'
import { finishReason, samplingOptions, toFunctions, toHistory, type StopReason } from './translate.ts'

type Event =
  | { type: 'delta'; content?: string; reasoning?: string }
  | { type: 'end'; stopReason: StopReason; toolCalls: ToolCall[]; usage: Usage }
  | { type: 'error'; error: unknown }

export interface Generation {
  slot: Slot
  grammar: LlamaGrammar | undefined
  signal: AbortSignal
  /** Called once when the generation has ended (success, failure or abort). */
  done: () => void
}

function toolCallsOf(calls: Array<{ functionName: string; params: unknown }> | undefined): ToolCall[] {
  return (calls ?? []).map((call) => ({
    id: `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    type: 'function' as const,
    function: { name: call.functionName, arguments: JSON.stringify(call.params ?? {}) },
  }))
}

/** Runs the generation, pushing events; never throws (failures become an `error` event). */
async function run(req: ChatRequest, g: Generation, push: (e: Event) => void): Promise<void> {
  const { sequence, chat } = g.slot
  const options = samplingOptions(req)
  const functions = toFunctions(req)
  let completionTokens = 0
  try {
    const common = {
      signal: g.signal,
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      topP: options.topP,
      seed: options.seed,
      customStopTriggers: options.stop.length ? options.stop : undefined,
      onToken: (tokens: readonly unknown[]) => { completionTokens += tokens.length },
      onResponseChunk: (chunk: LlamaChatResponseChunk) => {
        if (!chunk.text) return
        if (chunk.type === 'segment') {
          if (chunk.segmentType === 'thought') push({ type: 'delta', reasoning: chunk.text })
          return
        }
        push({ type: 'delta', content: chunk.text })
      },
    }
    const history = toHistory(req.messages)
    const response = functions
      ? await chat.generateResponse(history, { ...common, functions })
      : await chat.generateResponse(history, { ...common, grammar: g.grammar })
    const toolCalls = toolCallsOf(response.functionCalls as Array<{ functionName: string; params: unknown }> | undefined)
    // The sequence now holds prompt + answer (a reused prefix included): the prompt is the rest.
    const promptTokens = Math.max(0, sequence.contextTokens.length - completionTokens)
    push({
      type: 'end',
      stopReason: toolCalls.length ? 'functionCalls' : response.metadata.stopReason,
      toolCalls,
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    })
  } catch (error) {
    push({ type: 'error', error })
  } finally {
    g.done()
  }
}

/** The generation as chunks (the role rides on the first one, so that it carries content). */
export async function* streamChat(req: ChatRequest, g: Generation, consumerGone: AbortController): AsyncGenerator<ChatChunk> {
  const events: Event[] = []
  let wake: (() => void) | undefined
  const push = (e: Event) => {
    events.push(e)
    wake?.()
  }
  const running = run(req, g, push)
  const base = { id: `chatcmpl-local-${randomUUID()}`, object: 'chat.completion.chunk' as const, created: Math.floor(Date.now() / 1000), model: req.model }
  let first = true
  const delta = (d: ChatChunk['choices'][number]['delta']) => {
    if (first) {
      first = false
      return { role: 'assistant' as const, ...d }
    }
    return d
  }
  try {
    for (;;) {
      if (events.length === 0) await new Promise<void>((resolve) => { wake = resolve })
      wake = undefined
      for (const e of events.splice(0)) {
        if (e.type === 'error') throw e.error
        if (e.type === 'delta') {
          const d = e.reasoning !== undefined ? { reasoning_content: e.reasoning } : { content: e.content }
          yield { ...base, choices: [{ index: 0, delta: delta(d), finish_reason: null }] }
          continue
        }
        if (e.toolCalls.length) {
          yield { ...base, choices: [{ index: 0, delta: delta({ tool_calls: e.toolCalls.map((call, index) => ({ index, ...call })) }), finish_reason: null }] }
        }
        yield { ...base, choices: [{ index: 0, delta: delta({}), finish_reason: finishReason(e.stopReason) }] }
        if (req.stream_options?.include_usage) yield { ...base, choices: [], usage: e.usage }
        return
      }
    }
  } finally {
    // The consumer stopped early (client gone, router gave up): stop generating now.
    consumerGone.abort()
    await running
  }
}

/** The whole answer as one completion. */
export async function completeChat(req: ChatRequest, g: Generation, consumerGone: AbortController): Promise<ChatCompletion> {
  let content = ''
  let reasoning = ''
  let end: FinishReason = 'stop'
  let toolCalls: ToolCall[] = []
  let usage: Usage | undefined
  const chunks = streamChat({ ...req, stream_options: { include_usage: true } }, g, consumerGone)
  let id = ''
  let created = 0
  for await (const chunk of chunks) {
    id = chunk.id
    created = chunk.created
    if (chunk.usage) usage = chunk.usage
    const choice = chunk.choices[0]
    if (!choice) continue
    content += choice.delta.content ?? ''
    reasoning += choice.delta.reasoning_content ?? ''
    if (choice.delta.tool_calls) toolCalls = choice.delta.tool_calls as ToolCall[]
    if (choice.finish_reason) end = choice.finish_reason
  }
  const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: toolCalls.length && !content ? null : content }
  if (reasoning) message.reasoning_content = reasoning
  if (toolCalls.length) message.tool_calls = toolCalls.map(({ id, type, function: fn }) => ({ id, type, function: fn }))
  return { id, object: 'chat.completion', created, model: req.model, choices: [{ index: 0, message, finish_reason: end }], usage }
}
