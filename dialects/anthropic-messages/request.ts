// Messages request decode: an Anthropic Messages body → the internal ChatRequest (OpenAI
// Chat Completions shapes), with the client's own body kept on it (NATIVE) for the `anthropic`
// provider to send as it is. Pure, no I/O; the mapping tables are wire.ts's.
//
// What survives translation to an OpenAI-shaped provider is listed in the README ("Inbound
// dialects"); in short: system (text), text, images, tool_use/tool_result (is_error as a
// prefix), thinking (as reasoning_content), max_tokens, stop_sequences, temperature, top_p,
// tools, tool_choice, disable_parallel_tool_use, thinking budget or adaptive effort (as
// reasoning_effort), output_config.format (as response_format), metadata.user_id (as user). Everything else (cache_control, signatures, redacted thinking,
// documents, server tools, top_k, service_tier, …) only reaches a native Anthropic upstream.
import { NATIVE, type ChatMessage, type ChatRequest, type ContentPart, type ToolCall, type ToolDefinition } from '../../providers/contract.ts'
import { effortForBudget, fromAnthropicToolChoice, urlFromImageSource, type AnthropicBlock, type AnthropicRequest, type ImageSource } from './wire.ts'
import { ownEntry } from '../../providers/lookup.ts'

/** Client headers a native Anthropic upstream should see as they are. */
export const FORWARDED_HEADERS = ['anthropic-version', 'anthropic-beta'] as const

/** How a tool_result with `is_error: true` reads to a model that has no such flag. */
export const TOOL_ERROR_PREFIX = 'Error: '

type Block = AnthropicBlock & { [k: string]: any }

const textOfBlocks = (blocks: Block[]) => blocks.filter((b) => b.type === 'text').map((b) => String(b.text ?? '')).join('\n\n')

function imagePart(source: ImageSource): ContentPart | undefined {
  if (source?.type !== 'base64' && source?.type !== 'url') return undefined
  return { type: 'image_url', image_url: { url: urlFromImageSource(source) } }
}

/** User-side blocks that OpenAI content parts can carry (text, images); others do not survive. */
function userParts(blocks: Block[]): ContentPart[] {
  const parts: ContentPart[] = []
  for (const block of blocks) {
    if (block.type === 'text') parts.push({ type: 'text', text: String(block.text ?? '') })
    else if (block.type === 'image') {
      const part = imagePart(block.source)
      if (part) parts.push(part)
    }
  }
  return parts
}

/** One text string when the parts are all text (what every OpenAI-shaped upstream takes). */
function compact(parts: ContentPart[]): string | ContentPart[] {
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('\n\n') : parts
}

function toolResultMessages(block: Block): ChatMessage[] {
  const content = block.content
  const blocks: Block[] = typeof content === 'string' ? [{ type: 'text', text: content }] : Array.isArray(content) ? content : []
  const text = textOfBlocks(blocks)
  const images = userParts(blocks).filter((p) => p.type === 'image_url')
  const messages: ChatMessage[] = [{ role: 'tool', tool_call_id: String(block.tool_use_id ?? ''), content: block.is_error === true ? `${TOOL_ERROR_PREFIX}${text}` : text }]
  // A tool message cannot hold images: they follow as a user message.
  if (images.length) messages.push({ role: 'user', content: images })
  return messages
}

function userMessages(content: string | Block[]): ChatMessage[] {
  if (typeof content === 'string') return [{ role: 'user', content }]
  const messages: ChatMessage[] = []
  // OpenAI wants tool results right after the assistant turn that called: they go first.
  for (const block of content) if (block.type === 'tool_result') messages.push(...toolResultMessages(block))
  const parts = userParts(content.filter((b) => b.type !== 'tool_result'))
  if (parts.length) messages.push({ role: 'user', content: compact(parts) })
  return messages
}

function assistantMessage(content: string | Block[]): ChatMessage {
  if (typeof content === 'string') return { role: 'assistant', content }
  const text = textOfBlocks(content)
  const reasoning = content.filter((b) => b.type === 'thinking').map((b) => String(b.thinking ?? '')).join('')
  const toolCalls: ToolCall[] = content
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: String(b.id), type: 'function', function: { name: String(b.name), arguments: JSON.stringify(b.input ?? {}) } }))
  const message: ChatMessage = { role: 'assistant', content: text || (toolCalls.length ? null : '') }
  if (toolCalls.length) message.tool_calls = toolCalls
  if (reasoning) message.reasoning_content = reasoning
  return message
}

/** The `system` field as the one system message's text (blocks joined by a blank line). */
export function systemText(system: AnthropicRequest['system']): string | undefined {
  if (typeof system === 'string') return system || undefined
  if (!Array.isArray(system)) return undefined
  return textOfBlocks(system as Block[]) || undefined
}

/** Client tools (no type, or `custom`); server tools (web search, bash, …) have no OpenAI form. */
const isClientTool = (tool: { type?: string }) => tool.type === undefined || tool.type === 'custom'

function tools(body: AnthropicRequest): ToolDefinition[] | undefined {
  const client = (body.tools ?? []).filter(isClientTool)
  if (client.length === 0) return undefined
  return client.map((tool) => ({
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      parameters: tool.input_schema ?? { type: 'object', properties: {} },
    },
  }))
}

/** `output_config.effort` → the levels OpenAI-shaped reasoning models take (`xhigh`/`max` are Anthropic's own). */
const EFFORT_LEVELS: Record<string, string> = { low: 'low', medium: 'medium', high: 'high', xhigh: 'high', max: 'high' }
/** `thinking: {type: "adaptive"}` without an effort: the model decides, as with OpenAI's default. */
const ADAPTIVE_DEFAULT_EFFORT = 'medium'

/**
 * Reasoning is asked for only when thinking is on: `enabled` with a budget (the shared budget
 * table), or `adaptive` with `output_config.effort`. Without thinking, effort is not sent:
 * OpenAI-shaped providers reject reasoning_effort on models that do not reason.
 */
function reasoningEffort(body: AnthropicRequest): string | undefined {
  const thinking = body.thinking as { type?: string; budget_tokens?: unknown } | undefined
  if (thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number') return effortForBudget(thinking.budget_tokens)
  if (thinking?.type !== 'adaptive') return undefined
  const effort = (body.output_config as { effort?: unknown } | undefined)?.effort
  return ownEntry(EFFORT_LEVELS, effort) ?? ADAPTIVE_DEFAULT_EFFORT
}

/** `output_config.format` (JSON schema outputs) → OpenAI's `response_format`. */
function responseFormat(config: unknown): ChatRequest['response_format'] | undefined {
  const format = (config as { format?: { type?: unknown; schema?: unknown } } | undefined)?.format
  if (format?.type !== 'json_schema' || !format.schema || typeof format.schema !== 'object') return undefined
  return { type: 'json_schema', json_schema: { name: 'output', schema: format.schema, strict: true } }
}

export interface DecodeOptions {
  headers: Record<string, string | string[] | undefined>
}

/** Anthropic Messages body → internal request, with the body itself kept for a native upstream. */
export function decodeMessagesRequest(body: AnthropicRequest, options: DecodeOptions): ChatRequest {
  const messages: ChatMessage[] = []
  const system = systemText(body.system)
  if (system) messages.push({ role: 'system', content: system })
  for (const message of body.messages) {
    if (message.role === 'assistant') messages.push(assistantMessage(message.content as string | Block[]))
    else messages.push(...userMessages(message.content as string | Block[]))
  }

  const request: ChatRequest = { model: body.model, messages, max_tokens: body.max_tokens }
  if (body.stream === true) {
    request.stream = true
    // Usage is part of every Messages stream (message_delta): ask OpenAI-shaped upstreams for it.
    request.stream_options = { include_usage: true }
  }
  if (typeof body.temperature === 'number') request.temperature = body.temperature
  if (typeof body.top_p === 'number') request.top_p = body.top_p
  if (body.stop_sequences?.length) request.stop = body.stop_sequences
  if (typeof body.metadata?.user_id === 'string') request.user = body.metadata.user_id
  const translatedTools = tools(body)
  if (translatedTools) {
    request.tools = translatedTools
    Object.assign(request, fromAnthropicToolChoice(body.tool_choice))
  }
  const effort = reasoningEffort(body)
  if (effort) request.reasoning_effort = effort
  const format = responseFormat(body.output_config)
  if (format) request.response_format = format

  request[NATIVE] = { dialect: 'anthropic-messages', body: withoutTiergateFields(body), headers: forwardedHeaders(options.headers) }
  return request
}

/** The client's FORWARDED_HEADERS that an Anthropic upstream gets as they are (repeated ones joined). */
export function forwardedHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of FORWARDED_HEADERS) {
    const value = headers[name]
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : value
  }
  return out
}

/** `session_id` is tiergate's own (as on Chat Completions): it never goes upstream. */
function withoutTiergateFields(body: AnthropicRequest): AnthropicRequest {
  if (!('session_id' in body)) return body
  const { session_id: _tiergate, ...upstream } = body
  return upstream as AnthropicRequest
}
