// The Anthropic Messages wire (PROTOCOLS.md §3): its types, and the mapping tables between it
// and the internal (OpenAI Chat Completions) shapes. One module for both directions: the
// `anthropic` provider (providers/anthropic/, internal → Anthropic upstream) and the
// /v1/messages dialect (dialects/anthropic-messages/, Anthropic client → internal) read the
// same tables, so a mapping fixed here is fixed for both. Pure, no I/O.
import type { FinishReason, ToolChoice, Usage } from '../../providers/contract.ts'
import { ownEntry } from '../../providers/lookup.ts'

// ── Types ────────────────────────────────────────────────────────────────────────────────
export type ImageSource = { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string }

export type AnthropicBlock =
  | { type: 'text'; text: string; [k: string]: unknown }
  | { type: 'image'; source: ImageSource; [k: string]: unknown }
  | { type: 'tool_use'; id: string; name: string; input: unknown; [k: string]: unknown }
  | { type: 'tool_result'; tool_use_id: string; content?: string | AnthropicBlock[]; is_error?: boolean; [k: string]: unknown }
  | { type: 'thinking'; thinking: string; signature?: string; [k: string]: unknown }
  | { type: 'redacted_thinking'; data: string; [k: string]: unknown }
  | { type: string; [k: string]: unknown }

export interface AnthropicMessage {
  role: 'user' | 'assistant'
  content: string | AnthropicBlock[]
}

export interface AnthropicTool {
  name: string
  description?: string
  input_schema: Record<string, unknown>
  /** Absent or 'custom' for a client tool; server tools have versioned types (web_search_20250305, …). */
  type?: string
  [k: string]: unknown
}

export interface AnthropicToolChoice {
  type: 'auto' | 'any' | 'none' | 'tool'
  name?: string
  disable_parallel_tool_use?: boolean
}

export interface AnthropicRequest {
  model: string
  max_tokens: number
  messages: AnthropicMessage[]
  system?: string | Array<{ type: 'text'; text: string; [k: string]: unknown }>
  stream?: boolean
  temperature?: number
  top_p?: number
  top_k?: number
  stop_sequences?: string[]
  metadata?: { user_id?: string; [k: string]: unknown }
  tools?: AnthropicTool[]
  tool_choice?: AnthropicToolChoice
  thinking?: { type: 'enabled'; budget_tokens: number } | { type: 'disabled' } | { type: string; [k: string]: unknown }
  [k: string]: unknown
}

export interface AnthropicUsage {
  input_tokens?: number
  output_tokens?: number
  cache_creation_input_tokens?: number | null
  cache_read_input_tokens?: number | null
  [k: string]: unknown
}

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded'

export interface AnthropicResponse {
  id: string
  type: 'message'
  role: 'assistant'
  model: string
  content: AnthropicBlock[]
  stop_reason: string | null
  stop_sequence: string | null
  usage: AnthropicUsage
}

// ── Thinking budget ↔ reasoning effort ───────────────────────────────────────────────────
/**
 * `reasoning_effort` → `thinking.budget_tokens`. Anthropic's minimum budget is 1024; the
 * steps roughly double so that each level is a visible difference in depth and cost.
 */
export const THINKING_BUDGET_TOKENS: Record<string, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
}

/**
 * `budget_tokens` → the effort OpenAI-shaped providers take (low/medium/high, the levels every
 * reasoning model accepts). Boundaries are the geometric means of neighbouring budgets above,
 * so effort → budget → effort is the identity for those three.
 */
const EFFORT_FOR_BUDGET: Array<[maxBudgetTokens: number, effort: string]> = [
  [Math.sqrt(THINKING_BUDGET_TOKENS.low * THINKING_BUDGET_TOKENS.medium), 'low'],
  [Math.sqrt(THINKING_BUDGET_TOKENS.medium * THINKING_BUDGET_TOKENS.high), 'medium'],
  [Infinity, 'high'],
]

export function effortForBudget(budgetTokens: number): string {
  return EFFORT_FOR_BUDGET.find(([max]) => budgetTokens < max)![1]
}

// ── stop_reason ↔ finish_reason ──────────────────────────────────────────────────────────
/** Anthropic → OpenAI (Portkey's finishReasonMap; refusal → content_filter is a gateway choice). */
const FINISH_FOR_STOP: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
}

export function finishReason(stopReason: string | null | undefined): FinishReason {
  if (stopReason === null || stopReason === undefined) return null
  return ownEntry(FINISH_FOR_STOP, stopReason) ?? 'stop'
}

/** OpenAI → Anthropic. `stop` is end_turn unless the upstream named the stop sequence it hit. */
const STOP_FOR_FINISH: Record<string, StopReason> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
}

export function stopReason(finish: string | null | undefined, stopSequence?: string | null): StopReason {
  if (stopSequence) return 'stop_sequence'
  return ownEntry(STOP_FOR_FINISH, finish ?? 'stop') ?? 'end_turn'
}

/**
 * Which stop sequence ended the answer travels on the internal choice (or stream choice) as
 * `stop_reason`, the field vLLM already uses for it: OpenAI's own `finish_reason: "stop"` does
 * not say, and an Anthropic client wants `stop_reason: "stop_sequence"` with the string.
 */
export function withStopSequence<T extends object>(choice: T, stopSequence: string): T {
  return Object.assign(choice, { stop_reason: stopSequence })
}

/** The stop sequence a choice names, if it is one the client asked for (vLLM also puts token ids there). */
export function stopSequenceOf(choice: object | undefined, requested: readonly string[] | undefined): string | null {
  const named = (choice as { stop_reason?: unknown } | undefined)?.stop_reason
  if (typeof named !== 'string' || !requested?.length) return null
  return requested.includes(named) ? named : null
}

// ── tool_choice ──────────────────────────────────────────────────────────────────────────
export function toAnthropicToolChoice(choice: ToolChoice | undefined, parallelToolCalls: unknown): AnthropicToolChoice | undefined {
  let mapped: AnthropicToolChoice | undefined
  if (choice === 'auto') mapped = { type: 'auto' }
  else if (choice === 'required') mapped = { type: 'any' }
  else if (choice === 'none') mapped = { type: 'none' }
  else if (choice && typeof choice === 'object') mapped = { type: 'tool', name: choice.function.name }
  if (parallelToolCalls === false && mapped?.type !== 'none') {
    mapped = { ...(mapped ?? { type: 'auto' }), disable_parallel_tool_use: true }
  }
  return mapped
}

export function fromAnthropicToolChoice(choice: AnthropicToolChoice | undefined): { tool_choice?: ToolChoice; parallel_tool_calls?: false } {
  if (!choice) return {}
  const out: { tool_choice?: ToolChoice; parallel_tool_calls?: false } = {}
  if (choice.type === 'auto') out.tool_choice = 'auto'
  else if (choice.type === 'any') out.tool_choice = 'required'
  else if (choice.type === 'none') out.tool_choice = 'none'
  else if (choice.type === 'tool' && choice.name) out.tool_choice = { type: 'function', function: { name: choice.name } }
  if (choice.disable_parallel_tool_use === true && choice.type !== 'none') out.parallel_tool_calls = false
  return out
}

// ── images ───────────────────────────────────────────────────────────────────────────────
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s

/** An OpenAI image_url → an Anthropic image source; undefined when it is neither a data URL nor http(s). */
export function imageSourceFromUrl(url: string): ImageSource | undefined {
  const data = DATA_URL.exec(url)
  if (data) return { type: 'base64', media_type: data[1], data: data[2] }
  if (/^https?:\/\//i.test(url)) return { type: 'url', url }
  return undefined
}

export function urlFromImageSource(source: ImageSource): string {
  return source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url
}

// ── usage ────────────────────────────────────────────────────────────────────────────────
/**
 * Anthropic → OpenAI. Anthropic counts cached prompt tokens apart; OpenAI's prompt_tokens
 * includes them (cache reads as prompt_tokens_details.cached_tokens, cache writes as
 * prompt_tokens_details.cache_write_tokens, as OpenRouter reports them), so they can be split
 * again on the way back to an Anthropic client.
 */
export function toOpenAIUsage(usage: AnthropicUsage, outputTokens = usage.output_tokens ?? 0): Usage {
  const cacheRead = usage.cache_read_input_tokens ?? 0
  const cacheWrite = usage.cache_creation_input_tokens ?? 0
  const prompt = (usage.input_tokens ?? 0) + cacheRead + cacheWrite
  const result: Usage = { prompt_tokens: prompt, completion_tokens: outputTokens, total_tokens: prompt + outputTokens }
  if (cacheRead > 0 || cacheWrite > 0) {
    const details: Record<string, number> = { cached_tokens: cacheRead }
    if (cacheWrite > 0) details.cache_write_tokens = cacheWrite
    result.prompt_tokens_details = details
  }
  return result
}

const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0)

/**
 * OpenAI-shaped usage → Anthropic's. Cache reads come from `prompt_tokens_details.cached_tokens`
 * (OpenAI, OpenRouter, Groq) or `prompt_cache_hit_tokens` (DeepSeek); cache writes from
 * `prompt_tokens_details.cache_write_tokens`. input_tokens is what is left uncached.
 */
export function toAnthropicUsage(usage: Usage | null | undefined): Required<Pick<AnthropicUsage, 'input_tokens' | 'output_tokens'>> & { cache_creation_input_tokens: number; cache_read_input_tokens: number } {
  const details = (usage?.prompt_tokens_details ?? {}) as Record<string, unknown>
  const cacheRead = count(details.cached_tokens) || count(usage?.prompt_cache_hit_tokens)
  const cacheWrite = count(details.cache_write_tokens)
  const prompt = count(usage?.prompt_tokens)
  return {
    input_tokens: Math.max(0, prompt - cacheRead - cacheWrite),
    output_tokens: count(usage?.completion_tokens),
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  }
}

// ── errors ───────────────────────────────────────────────────────────────────────────────
/** The error types Anthropic answers with (an upstream's own type is kept only when it is one). */
export const ANTHROPIC_ERROR_TYPES = new Set([
  'invalid_request_error', 'authentication_error', 'billing_error', 'permission_error', 'not_found_error',
  'request_too_large', 'rate_limit_error', 'api_error', 'timeout_error', 'overloaded_error',
])

/** HTTP status → Anthropic error type (Anthropic's errors page; 503 → overloaded as in ollama's anthropic.go). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error'
    case 401: return 'authentication_error'
    case 403: return 'permission_error'
    case 404: return 'not_found_error'
    case 413: return 'request_too_large'
    case 429: return 'rate_limit_error'
    case 503:
    case 529: return 'overloaded_error'
    default: return status >= 500 ? 'api_error' : 'invalid_request_error'
  }
}

/** `event: <type>\ndata: <json>\n\n`, as Anthropic frames every event. */
export const sseEvent = (data: { type: string; [k: string]: unknown }) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`

const BLOCK_DELTA_HEAD = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":'

/**
 * `sseEvent({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } })` (or
 * `thinking_delta` with `thinking`), the same bytes, written without building the event: one
 * per token of every translated Messages stream (issue 14). Only the text needs JSON's
 * escaping; the index is a block number, a small integer.
 */
export function blockDeltaEvent(index: number, kind: 'text' | 'thinking', text: string): string {
  return `${BLOCK_DELTA_HEAD}${index},"delta":{"type":"${kind}_delta","${kind}":${JSON.stringify(text)}}}\n\n`
}

/** Anthropic's own ping (its space after the colon kept). */
export const PING_EVENT = 'event: ping\ndata: {"type": "ping"}\n\n'
