// OpenAI Chat Completions ⇄ Anthropic Messages (PROTOCOLS.md §3): the request going up and
// the non-stream answer coming back. Pure functions, no I/O; stream.ts does the SSE events.
import type { ChatCompletion, ChatMessage, ChatRequest, ContentPart, FinishReason, ToolCall, Usage } from '../contract.ts'
import { UpstreamError } from '../upstream-error.ts'

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
/** Anthropic's temperature range is 0..1 (OpenAI's is 0..2). */
const MAX_TEMPERATURE = 1

export type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string } }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string | AnthropicBlock[]; is_error?: boolean }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: string; [k: string]: unknown }

export interface AnthropicMessage {
  role: 'user' | 'assistant'
  content: string | AnthropicBlock[]
}

export interface AnthropicRequest {
  model: string
  max_tokens: number
  messages: AnthropicMessage[]
  system?: string
  stream?: boolean
  temperature?: number
  top_p?: number
  top_k?: number
  stop_sequences?: string[]
  metadata?: { user_id: string }
  tools?: Array<{ name: string; description?: string; input_schema: Record<string, unknown> }>
  tool_choice?: { type: 'auto' | 'any' | 'none' | 'tool'; name?: string; disable_parallel_tool_use?: boolean }
  thinking?: { type: 'enabled'; budget_tokens: number }
}

export interface AnthropicUsage {
  input_tokens?: number
  output_tokens?: number
  cache_creation_input_tokens?: number | null
  cache_read_input_tokens?: number | null
}

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

const badRequest = (message: string) => new UpstreamError('client', message, { status: 400, upstreamCode: 'invalid_request_error' })

/** Content-part types the Messages API can take (others: the router tries another provider). */
const SUPPORTED_PARTS = new Set(['text', 'image_url'])

/** Why this request cannot go to Anthropic at all, or undefined. */
export function unsupportedReason(req: ChatRequest): string | undefined {
  if (typeof req.n === 'number' && req.n > 1) return 'Anthropic returns one choice (n > 1 is not supported)'
  for (const message of req.messages) {
    if (!Array.isArray(message.content)) continue
    const part = message.content.find((p) => !SUPPORTED_PARTS.has(p.type))
    if (part) return `Anthropic cannot take \`${part.type}\` content parts`
  }
  return undefined
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('\n')
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s

function imageBlock(url: string): AnthropicBlock {
  const data = DATA_URL.exec(url)
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } }
  throw badRequest('image_url must be a base64 data URL or an http(s) URL')
}

function partToBlock(part: ContentPart): AnthropicBlock {
  if (part.type === 'text') return { type: 'text', text: (part as { text: string }).text }
  if (part.type === 'image_url') return imageBlock((part as { image_url: { url: string } }).image_url.url)
  throw badRequest(`Anthropic cannot take \`${part.type}\` content parts`)
}

function blocksOf(content: ChatMessage['content']): string | AnthropicBlock[] {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.map(partToBlock)
}

function toolUse(call: ToolCall): AnthropicBlock {
  let input: unknown
  try {
    input = JSON.parse(call.function.arguments || '{}')
  } catch {
    throw badRequest(`tool call ${call.id}: function.arguments is not valid JSON`)
  }
  return { type: 'tool_use', id: call.id, name: call.function.name, input }
}

function assistantMessage(message: ChatMessage): AnthropicMessage | undefined {
  const calls = message.tool_calls ?? []
  if (calls.length === 0) {
    const content = blocksOf(message.content)
    // Anthropic rejects empty text; an empty assistant turn carries nothing anyway.
    return content.length === 0 ? undefined : { role: 'assistant', content }
  }
  const text = textOf(message.content)
  const blocks: AnthropicBlock[] = text ? [{ type: 'text', text }] : []
  blocks.push(...calls.map(toolUse))
  return { role: 'assistant', content: blocks }
}

function isToolResultTurn(message: AnthropicMessage | undefined): message is AnthropicMessage & { content: AnthropicBlock[] } {
  return message?.role === 'user' && Array.isArray(message.content) && message.content.every((b) => b.type === 'tool_result')
}

/** OpenAI messages → Anthropic `system` + alternating messages. */
export function toAnthropicMessages(messages: ChatMessage[]): { system: string | undefined; messages: AnthropicMessage[] } {
  const system: string[] = []
  const out: AnthropicMessage[] = []
  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(textOf(message.content))
        break
      case 'user':
        out.push({ role: 'user', content: blocksOf(message.content) })
        break
      case 'assistant': {
        const converted = assistantMessage(message)
        if (converted) out.push(converted)
        break
      }
      case 'tool': {
        const result: AnthropicBlock = { type: 'tool_result', tool_use_id: message.tool_call_id ?? '', content: blocksOf(message.content) }
        // Parallel tool results answer one assistant turn: they go back as one user turn.
        const last = out.at(-1)
        if (isToolResultTurn(last)) last.content.push(result)
        else out.push({ role: 'user', content: [result] })
        break
      }
    }
  }
  const joined = system.filter(Boolean).join('\n\n')
  return { system: joined || undefined, messages: out }
}

function toolChoice(req: ChatRequest): AnthropicRequest['tool_choice'] {
  const choice = req.tool_choice
  let mapped: AnthropicRequest['tool_choice']
  if (choice === 'auto') mapped = { type: 'auto' }
  else if (choice === 'required') mapped = { type: 'any' }
  else if (choice === 'none') mapped = { type: 'none' }
  else if (choice && typeof choice === 'object') mapped = { type: 'tool', name: choice.function.name }
  if (req.parallel_tool_calls === false && mapped?.type !== 'none') {
    mapped = { ...(mapped ?? { type: 'auto' }), disable_parallel_tool_use: true }
  }
  return mapped
}

function thinkingBudget(effort: unknown): number | undefined {
  if (effort === undefined || effort === null || effort === 'none') return undefined
  const budget = typeof effort === 'string' ? THINKING_BUDGET_TOKENS[effort] : undefined
  if (budget === undefined) {
    throw badRequest(`reasoning_effort must be one of none, ${Object.keys(THINKING_BUDGET_TOKENS).join(', ')}`)
  }
  return budget
}

/** The whole Messages request for one OpenAI chat request. */
export function toAnthropicRequest(req: ChatRequest, defaultMaxTokens: number): AnthropicRequest {
  const { system, messages } = toAnthropicMessages(req.messages)
  const answerTokens = req.max_completion_tokens ?? req.max_tokens ?? defaultMaxTokens
  const budget = thinkingBudget(req.reasoning_effort)
  // With thinking, max_tokens covers thinking + answer and must exceed the budget: the
  // client's limit keeps meaning "the answer", the budget comes on top.
  const body: AnthropicRequest = { model: req.model, max_tokens: budget ? answerTokens + budget : answerTokens, messages }
  if (system) body.system = system
  if (req.stream) body.stream = true
  if (budget) {
    body.thinking = { type: 'enabled', budget_tokens: budget }
    // Anthropic rejects temperature/top_k (and narrow top_p) with thinking on: leave them out.
  } else {
    if (typeof req.temperature === 'number') body.temperature = Math.min(req.temperature, MAX_TEMPERATURE)
    if (typeof req.top_p === 'number') body.top_p = req.top_p
    if (typeof req.top_k === 'number') body.top_k = req.top_k
  }
  if (req.stop) body.stop_sequences = Array.isArray(req.stop) ? req.stop : [req.stop]
  if (req.user) body.metadata = { user_id: req.user }
  if (req.tools?.length) {
    body.tools = req.tools.map((tool) => ({
      name: tool.function.name,
      ...(tool.function.description ? { description: tool.function.description } : {}),
      input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
    }))
    const choice = toolChoice(req)
    if (choice) body.tool_choice = choice
  }
  return body
}

export function finishReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length'
    case 'tool_use':
      return 'tool_calls'
    case 'refusal':
      return 'content_filter'
    case null:
    case undefined:
      return null
    default: // end_turn, stop_sequence, pause_turn
      return 'stop'
  }
}

/** Anthropic counts cached prompt tokens apart; OpenAI's prompt_tokens includes them. */
export function toUsage(usage: AnthropicUsage, outputTokens = usage.output_tokens ?? 0): Usage {
  const cacheRead = usage.cache_read_input_tokens ?? 0
  const prompt = (usage.input_tokens ?? 0) + cacheRead + (usage.cache_creation_input_tokens ?? 0)
  const result: Usage = { prompt_tokens: prompt, completion_tokens: outputTokens, total_tokens: prompt + outputTokens }
  if (cacheRead > 0) result.prompt_tokens_details = { cached_tokens: cacheRead }
  return result
}

/** A Messages answer → an OpenAI chat.completion. */
export function fromAnthropicResponse(body: AnthropicResponse, now = Date.now()): ChatCompletion {
  if (!body || body.type !== 'message' || !Array.isArray(body.content)) {
    throw new UpstreamError('malformed', 'the upstream answer is not an Anthropic message')
  }
  let text = ''
  let reasoning = ''
  const toolCalls: ToolCall[] = []
  for (const block of body.content) {
    if (block.type === 'text') text += (block as { text: string }).text
    else if (block.type === 'thinking') reasoning += (block as { thinking: string }).thinking
    else if (block.type === 'tool_use') {
      const use = block as { id: string; name: string; input: unknown }
      toolCalls.push({ id: use.id, type: 'function', function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) } })
    }
  }
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text || (toolCalls.length ? null : ''),
    refusal: null,
  }
  if (toolCalls.length) message.tool_calls = toolCalls
  if (reasoning) message.reasoning_content = reasoning
  return {
    id: body.id,
    object: 'chat.completion',
    created: Math.floor(now / 1000),
    model: body.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(body.stop_reason) ?? 'stop' }],
    usage: toUsage(body.usage ?? {}),
  }
}
