// Responses request → internal ChatRequest (Chat Completions shapes). Pure.
// What has no Chat Completions equivalent is either dropped (server-side features such as
// `include`, `truncation`, `prompt_cache_key`) or reported as `untranslatable`, so that the
// route can pin the request to a provider that speaks Responses natively, or answer 400.
import type { ChatMessage, ChatRequest, ContentPart, ToolCall, ToolChoice, ToolDefinition } from '../../providers/contract.ts'
import type { FunctionTool, Item, ResponsesRequest, ResponsesToolChoice } from './types.ts'

export interface Decoded {
  request: ChatRequest
  /** Why only a native Responses upstream can serve this (a built-in tool, a file input…); undefined when it translates. */
  untranslatable: string | undefined
}

/** The request field an untranslatable reason is about (the `param` of the 400). */
export function paramOf(reason: string): string {
  for (const field of ['background', 'conversation', 'prompt', 'text format']) if (reason.includes(field)) return field === 'text format' ? 'text.format' : field
  return reason.includes('tool') ? 'tools' : 'input'
}

/** A request's own input as items (a string is one user message). */
export function inputItems(input: ResponsesRequest['input']): Item[] {
  if (input === undefined || input === null) return []
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }]
  return input
}

/** Tools tiergate cannot run on a translated provider: every type but `function` (web_search, file_search, computer_use_preview, code_interpreter, mcp, …). */
export function builtInTools(body: Pick<ResponsesRequest, 'tools' | 'tool_choice'>): string[] {
  const types = (body.tools ?? []).map((tool) => tool.type).filter((type) => type !== 'function')
  const choice = body.tool_choice
  if (typeof choice === 'object' && choice && choice.type !== 'function' && choice.type !== 'allowed_tools') types.push(choice.type)
  return [...new Set(types)]
}

class Untranslatable extends Error {}

/** The input itself is wrong (whatever provider serves it): a 400 naming the field, as OpenAI answers. */
export class InvalidInput extends Error {
  readonly param: string
  constructor(message: string, param: string) {
    super(message)
    this.param = param
  }
}

function required(item: Item, field: string, index: number): string {
  const value = item[field]
  if (typeof value !== 'string' || value === '') throw new InvalidInput(`Missing required parameter: 'input[${index}].${field}'.`, `input[${index}].${field}`)
  return value
}

function textOf(parts: unknown): string {
  if (typeof parts === 'string') return parts
  if (!Array.isArray(parts)) return ''
  return parts.map((p) => (typeof p?.text === 'string' ? p.text : typeof p?.refusal === 'string' ? p.refusal : '')).join('')
}

function contentPart(part: Item): ContentPart {
  if (typeof part !== 'object' || part === null) throw new Untranslatable('a content part that is not an object')
  switch (part.type) {
    case 'input_text':
    case 'output_text':
    case 'text':
      return { type: 'text', text: String(part.text ?? '') }
    case 'refusal':
      return { type: 'text', text: String(part.refusal ?? '') }
    case 'input_image': {
      if (typeof part.image_url !== 'string') throw new Untranslatable('an `input_image` given by `file_id` (only OpenAI can resolve its files)')
      const image: ContentPart = { type: 'image_url', image_url: { url: part.image_url } }
      if (typeof part.detail === 'string' && part.detail !== 'auto') (image.image_url as { detail?: string }).detail = part.detail
      return image
    }
    default:
      throw new Untranslatable(`a \`${part.type}\` content part`)
  }
}

function messageContent(content: unknown): string | ContentPart[] {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  const parts = content.map(contentPart)
  // One text part is sent as a plain string: every upstream accepts that form.
  return parts.length === 1 && parts[0].type === 'text' ? (parts[0] as { text: string }).text : parts
}

const MESSAGE_ROLES = new Set(['user', 'assistant', 'system', 'developer'])

/**
 * Conversation items → Chat messages. `function_call` items join the assistant message before
 * them (Chat Completions wants the calls on the assistant turn that made them); reasoning items
 * stay out (no Chat upstream accepts them back); so do the records of built-in tool calls that
 * a native turn left in a stored chain.
 */
export function itemsToMessages(items: Item[]): ChatMessage[] {
  const messages: ChatMessage[] = []
  for (const [index, item] of items.entries()) {
    const type = item.type ?? (item.role ? 'message' : undefined)
    if (type === 'message') {
      const role = MESSAGE_ROLES.has(item.role) ? item.role : 'user'
      const last = messages.at(-1)
      // One assistant turn may be several items (text after its calls): one message upstream,
      // or its tool results would not follow its tool_calls.
      if (role === 'assistant' && last?.role === 'assistant') last.content = `${last.content ?? ''}${textOf(item.content)}`
      else if (role === 'assistant') messages.push({ role, content: textOf(item.content) })
      else messages.push({ role, content: messageContent(item.content) })
      continue
    }
    if (type === 'function_call') {
      const call: ToolCall = { id: required(item, 'call_id', index), type: 'function', function: { name: required(item, 'name', index), arguments: String(item.arguments ?? '') } }
      const last = messages.at(-1)
      if (last?.role === 'assistant') {
        last.tool_calls = [...(last.tool_calls ?? []), call]
        if (last.content === '') last.content = null
      } else {
        messages.push({ role: 'assistant', content: null, tool_calls: [call] })
      }
      continue
    }
    if (type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: required(item, 'call_id', index), content: typeof item.output === 'string' ? item.output : textOf(item.output) })
      continue
    }
    if (type === 'reasoning' || (typeof type === 'string' && type.endsWith('_call'))) continue
    if (type === 'item_reference') throw new Untranslatable('an `item_reference` input item (only OpenAI holds the item)')
    throw new Untranslatable(`a \`${type ?? 'untyped'}\` input item`)
  }
  return messages
}

function tools(body: ResponsesRequest): ToolDefinition[] | undefined {
  const functions = (body.tools ?? []).filter((tool): tool is FunctionTool => tool.type === 'function')
  if (functions.length === 0) return undefined
  return functions.map((tool) => {
    const fn: Record<string, unknown> = { name: tool.name }
    if (tool.description) fn.description = tool.description
    if (tool.parameters) fn.parameters = tool.parameters
    if (typeof tool.strict === 'boolean') fn.strict = tool.strict
    return { type: 'function', function: fn as ToolDefinition['function'] }
  })
}

function toolChoice(choice: ResponsesToolChoice | undefined): ToolChoice | undefined {
  if (choice === undefined) return undefined
  if (typeof choice === 'string') return choice
  if (choice.type === 'function') return { type: 'function', function: { name: String(choice.name) } }
  if (choice.type === 'allowed_tools') return choice.mode === 'required' ? 'required' : 'auto'
  return undefined
}

/** `allowed_tools` narrows the tool list itself: Chat Completions has no such choice. */
function allowedTools(list: ToolDefinition[] | undefined, choice: ResponsesToolChoice | undefined): ToolDefinition[] | undefined {
  if (!list || typeof choice !== 'object' || choice.type !== 'allowed_tools') return list
  const names = new Set((choice.tools as Array<{ name?: string }>).map((t) => t.name))
  return list.filter((tool) => names.has(tool.function.name))
}

function responseFormat(body: ResponsesRequest): ChatRequest['response_format'] {
  const format = body.text?.format
  if (!format || format.type === 'text') return undefined
  if (format.type === 'json_object') return { type: 'json_object' }
  if (format.type === 'json_schema') {
    const schema: Record<string, unknown> = { name: format.name, schema: format.schema }
    if (format.description) schema.description = format.description
    if (typeof format.strict === 'boolean') schema.strict = format.strict
    return { type: 'json_schema', json_schema: schema }
  }
  throw new Untranslatable(`the text format \`${format.type}\``)
}

/** Features that live on OpenAI's side (its conversations, prompt templates, background runs): no translation can fake them. */
function serverSideFeature(body: ResponsesRequest): string | undefined {
  if (body.background === true) return '`background: true`'
  if (body.conversation !== undefined && body.conversation !== null) return '`conversation` (an OpenAI-side conversation)'
  if (body.prompt !== undefined && body.prompt !== null) return '`prompt` (an OpenAI-side prompt template)'
  return undefined
}

/**
 * The internal request: `instructions` as the system message, then the stored chain, then
 * this request's input. `store`, `metadata` and `previous_response_id` are the gateway's own
 * business and never go to a translated upstream.
 */
export function decodeRequest(body: ResponsesRequest, history: Item[]): Decoded {
  const builtIn = builtInTools(body)
  const request: ChatRequest = { model: body.model, messages: [] }
  let untranslatable = builtIn.length ? `the built-in tool \`${builtIn[0]}\`` : serverSideFeature(body)
  try {
    const messages = itemsToMessages([...history, ...inputItems(body.input)])
    if (body.instructions) messages.unshift({ role: 'system', content: body.instructions })
    request.messages = messages
    const list = allowedTools(tools(body), body.tool_choice)
    if (list) {
      request.tools = list
      const choice = toolChoice(body.tool_choice)
      if (choice) request.tool_choice = choice
      if (typeof body.parallel_tool_calls === 'boolean') request.parallel_tool_calls = body.parallel_tool_calls
    }
    const format = responseFormat(body)
    if (format) request.response_format = format
  } catch (err) {
    if (!(err instanceof Untranslatable)) throw err
    untranslatable ??= err.message
  }
  if (body.reasoning?.effort) request.reasoning_effort = body.reasoning.effort
  if (typeof body.max_output_tokens === 'number') request.max_tokens = body.max_output_tokens
  if (typeof body.temperature === 'number') request.temperature = body.temperature
  if (typeof body.top_p === 'number') request.top_p = body.top_p
  if (typeof body.user === 'string') request.user = body.user
  if (body.stream) {
    request.stream = true
    // response.completed carries usage: ask every upstream for it.
    request.stream_options = { include_usage: true }
  }
  return { request, untranslatable }
}
