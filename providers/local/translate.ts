// Pure translations between the internal (OpenAI) chat shapes and node-llama-cpp's: the
// message list → a chat history that the model's own chat template renders, tools →
// "functions", the sampling options, the finish reason, and what this runtime cannot do.
// Type-only imports of node-llama-cpp: nothing here loads the library.
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, ChatModelResponse } from 'node-llama-cpp'
import type { ChatMessage, ChatRequest, FinishReason } from '../contract.ts'

/** llama.cpp's own default; OpenAI's (1.0) is too random for small local models. */
export const DEFAULT_LOCAL_TEMPERATURE = 0.8

export interface ModelFacts {
  /** The model embeds text and does not chat (a pooling type, or an encoder architecture). */
  embeddingOnly: boolean
  /** The model's chat template renders tools (it mentions them). */
  templateHasTools: boolean
}

function text(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  if (!content) return ''
  return content.filter((part) => part.type === 'text').map((part) => String((part as { text?: unknown }).text ?? '')).join('\n')
}

export const wantsTools = (req: ChatRequest) => Boolean(req.tools?.length) && req.tool_choice !== 'none'

export function wantsGrammar(req: ChatRequest): 'json' | 'schema' | undefined {
  const type = req.response_format?.type
  if (type === 'json_object') return 'json'
  if (type === 'json_schema') return 'schema'
  return undefined
}

/** Why the local model cannot serve this request (so the router tries the next provider). */
export function localCannotServe(req: ChatRequest, facts: ModelFacts | undefined): string | undefined {
  if (facts?.embeddingOnly) return 'the local model is an embedding model (it serves /v1/embeddings only)'
  if ((req.n ?? 1) > 1) return 'the local model returns one choice (n must be 1)'
  for (const m of req.messages) {
    if (Array.isArray(m.content) && m.content.some((part) => part.type !== 'text')) return 'the local model takes text only (no images or other content parts)'
  }
  if (wantsTools(req)) {
    if (facts && !facts.templateHasTools) return "the local model's chat template has no tool support"
    if (req.tool_choice === 'required' || typeof req.tool_choice === 'object') return 'the local model cannot be forced to call a tool (tool_choice)'
    if (wantsGrammar(req)) return 'the local model cannot combine tools with response_format'
  }
  const format = req.response_format?.type
  if (format !== undefined && format !== 'text' && !wantsGrammar(req)) return `the local model does not support response_format ${format}`
  return undefined
}

function parseArguments(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

/**
 * OpenAI messages → node-llama-cpp chat history, ending with the empty model turn to generate.
 * An assistant's tool calls become function calls carrying their results (the tool messages
 * that answer them), which is how node-llama-cpp renders a tool round trip.
 */
export function toHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const results = new Map<string, string>()
  for (const m of messages) if (m.role === 'tool' && m.tool_call_id) results.set(m.tool_call_id, text(m.content))
  const history: ChatHistoryItem[] = []
  for (const m of messages) {
    if (m.role === 'system' || m.role === 'developer') history.push({ type: 'system', text: text(m.content) })
    else if (m.role === 'user') history.push({ type: 'user', text: text(m.content) })
    else if (m.role === 'assistant') {
      const response: ChatModelResponse['response'] = []
      const content = text(m.content)
      if (content) response.push(content)
      for (const call of m.tool_calls ?? []) {
        const functionCall: ChatModelFunctionCall = {
          type: 'functionCall',
          name: call.function.name,
          params: parseArguments(call.function.arguments),
          result: results.get(call.id) ?? '',
        }
        response.push(functionCall)
      }
      history.push({ type: 'model', response })
    }
    // Tool messages were folded into the calls they answer.
  }
  history.push({ type: 'model', response: [] })
  return history
}

/** OpenAI tools → node-llama-cpp functions (undefined when the request uses none). */
export function toFunctions(req: ChatRequest): ChatModelFunctions | undefined {
  if (!wantsTools(req)) return undefined
  const functions: Record<string, { description?: string; params?: any }> = {}
  for (const tool of req.tools ?? []) {
    if (tool.type !== 'function') continue
    // defineProperty, not assignment: a tool named "__proto__" must be an own entry, not this object's prototype.
    Object.defineProperty(functions, tool.function.name, { value: { description: tool.function.description, params: tool.function.parameters }, enumerable: true, writable: true, configurable: true })
  }
  return functions
}

export interface SamplingOptions {
  maxTokens: number | undefined
  temperature: number
  topP: number | undefined
  seed: number | undefined
  stop: string[]
}

export function samplingOptions(req: ChatRequest): SamplingOptions {
  const stop = req.stop == null ? [] : Array.isArray(req.stop) ? req.stop : [req.stop]
  return {
    maxTokens: req.max_completion_tokens ?? req.max_tokens ?? undefined,
    temperature: req.temperature ?? DEFAULT_LOCAL_TEMPERATURE,
    topP: req.top_p,
    seed: req.seed,
    stop: stop.filter((s) => s.length > 0),
  }
}

export type StopReason = 'eogToken' | 'stopGenerationTrigger' | 'functionCalls' | 'maxTokens' | 'abort' | 'customStopTrigger'

export function finishReason(stopReason: StopReason): FinishReason {
  if (stopReason === 'maxTokens') return 'length'
  if (stopReason === 'functionCalls') return 'tool_calls'
  return 'stop'
}
