// OpenAI Chat Completions ⇄ Anthropic Messages (PROTOCOLS.md §3): the request going up and
// the non-stream answer coming back. Pure functions, no I/O; stream.ts does the SSE events.
// The wire types and the mapping tables (stop reasons, tool_choice, images, usage, thinking
// budgets) live in dialects/anthropic-messages/wire.ts, shared with the inbound /v1/messages
// codec: one table per mapping, both directions.
import type { ChatCompletion, ChatMessage, ChatRequest, ContentPart, ToolCall, Usage } from '../contract.ts'
import { UpstreamError } from '../upstream-error.ts'
import { normalizeUsage } from '../usage.ts'
import { ownEntry } from '../lookup.ts'
import {
  THINKING_BUDGET_TOKENS, finishReason, imageSourceFromUrl, withStopSequence, toAnthropicToolChoice, toOpenAIUsage,
  type AnthropicBlock, type AnthropicMessage, type AnthropicRequest, type AnthropicResponse, type AnthropicUsage,
} from '../../dialects/anthropic-messages/wire.ts'

export type { AnthropicBlock, AnthropicMessage, AnthropicRequest, AnthropicResponse, AnthropicUsage }
export { THINKING_BUDGET_TOKENS, finishReason }
/**
 * Anthropic usage → OpenAI usage (the shared table), checked at the adapter boundary: a count
 * that is not a number ≥ 0 (`"12"` would even concatenate) drops the usage (issue 9 item 8).
 */
export const toUsage = (usage: AnthropicUsage, outputTokens?: number): Usage | undefined => normalizeUsage(toOpenAIUsage(usage, outputTokens))

/** Anthropic's temperature range is 0..1 (OpenAI's is 0..2). */
const MAX_TEMPERATURE = 1

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

export function textOfContent(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('\n')
}

function imageBlock(url: string): AnthropicBlock {
  const source = imageSourceFromUrl(url)
  if (!source) throw badRequest('image_url must be a base64 data URL or an http(s) URL')
  return { type: 'image', source }
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
  const text = textOfContent(message.content)
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
        system.push(textOfContent(message.content))
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

function thinkingBudget(effort: unknown): number | undefined {
  if (effort === undefined || effort === null || effort === 'none') return undefined
  const budget = ownEntry(THINKING_BUDGET_TOKENS, effort) // "constructor" is not an effort
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
    const choice = toAnthropicToolChoice(req.tool_choice, req.parallel_tool_calls)
    if (choice) body.tool_choice = choice
  }
  return body
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
  const choice: ChatCompletion['choices'][number] = { index: 0, message, logprobs: null, finish_reason: finishReason(body.stop_reason) ?? 'stop' }
  if (body.stop_reason === 'stop_sequence' && body.stop_sequence) withStopSequence(choice, body.stop_sequence)
  return {
    id: body.id,
    object: 'chat.completion',
    created: Math.floor(now / 1000),
    model: body.model,
    choices: [choice],
    usage: toUsage(body.usage ?? {}),
  }
}
