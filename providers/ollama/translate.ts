// Pure mappings between OpenAI Chat Completions / Embeddings and Ollama's native API
// (PROTOCOLS.md §1): POST /api/chat (NDJSON stream or one JSON object) and POST /api/embed.
// No I/O here: the provider feeds these functions requests, parsed objects and NDJSON lines.
import { randomUUID } from 'node:crypto'
import type {
  BatchIterator, ChatChunk, ChatCompletion, ChatMessage, ChatRequest, ChunkToolCall, EmbeddingRequest, EmbeddingResponse,
  FinishReason, ToolCall, Usage,
} from '../contract.ts'
import { UpstreamError } from '../upstream-error.ts'
import { translatedChunks } from '../translated-stream.ts'
import { TextChunks, type TextField } from '../text-chunk.ts'
import { isCount, normalizeUsage } from '../usage.ts'
import { ownEntry } from '../lookup.ts'

export interface OllamaToolCall {
  id?: string
  function: { index?: number; name: string; arguments: Record<string, unknown> }
}

export interface OllamaMessage {
  role: 'system' | 'user' | 'assistant' | 'tool'
  content: string
  thinking?: string
  images?: string[]
  tool_calls?: OllamaToolCall[]
  tool_name?: string
  tool_call_id?: string
}

export interface OllamaChatRequest {
  model: string
  messages: OllamaMessage[]
  stream: boolean
  tools?: unknown[]
  format?: 'json' | Record<string, unknown>
  options?: Record<string, unknown>
  think?: boolean | 'low' | 'medium' | 'high'
}

/** One NDJSON line of /api/chat, or the whole answer with `stream: false`. */
export interface OllamaChatLine {
  model?: string
  created_at?: string
  message?: { role?: string; content?: string; thinking?: string; tool_calls?: OllamaToolCall[] }
  done?: boolean
  done_reason?: string
  prompt_eval_count?: number
  eval_count?: number
  /** Ollama's mid-stream failure: a final line `{"error":"…"}` under HTTP 200. */
  error?: unknown
}

export interface OllamaEmbedRequest {
  model: string
  input: string | string[]
  dimensions?: number
}

export interface OllamaEmbedResponse {
  model?: string
  embeddings?: number[][]
  prompt_eval_count?: number
}

const unsupported = (message: string) => new UpstreamError('unsupported', message)

/** OpenAI's reasoning efforts → Ollama's `think` (Ollama's own OpenAI layer knows none/low/medium/high). */
const THINK_LEVELS: Record<string, OllamaChatRequest['think']> = {
  none: false,
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
}

const DATA_URL = /^data:[^,]*;base64,(.*)$/s

export const completionId = () => `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 24)}`
export const toolCallId = () => `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`

function splitContent(content: ChatMessage['content']): { text: string; images: string[] } {
  if (content === undefined || content === null) return { text: '', images: [] }
  if (typeof content === 'string') return { text: content, images: [] }
  const texts: string[] = []
  const images: string[] = []
  for (const part of content) {
    if (part.type === 'text') {
      texts.push(String((part as { text?: unknown }).text ?? ''))
    } else if (part.type === 'image_url') {
      const image = (part as { image_url?: { url?: string } | string }).image_url
      const url = typeof image === 'string' ? image : image?.url ?? ''
      const match = DATA_URL.exec(url)
      // Ollama cannot fetch URLs; another provider may.
      if (!match) throw unsupported('Ollama takes images only as base64 data URLs, not links')
      images.push(match[1])
    } else {
      throw unsupported(`Ollama cannot take "${part.type}" content parts`)
    }
  }
  return { text: texts.join('\n'), images }
}

function toolArguments(call: ToolCall): Record<string, unknown> {
  const raw = call.function.arguments
  if (!raw || !raw.trim()) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw unsupported(`the arguments of tool call ${call.function.name} are not JSON; Ollama needs them as an object`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw unsupported(`the arguments of tool call ${call.function.name} are not a JSON object; Ollama needs an object`)
  }
  return parsed as Record<string, unknown>
}

function toOllamaMessages(messages: ChatMessage[]): OllamaMessage[] {
  // Ollama wants the tool's name on a tool result; OpenAI only gives the call id.
  const toolNames = new Map<string, string>()
  for (const m of messages) for (const call of m.tool_calls ?? []) toolNames.set(call.id, call.function.name)
  return messages.map((m) => {
    const { text, images } = splitContent(m.content)
    const role = m.role === 'developer' ? 'system' : m.role
    const out: OllamaMessage = { role, content: text }
    if (images.length) out.images = images
    if (role === 'assistant') {
      if (typeof m.reasoning_content === 'string' && m.reasoning_content) out.thinking = m.reasoning_content
      if (m.tool_calls?.length) {
        out.tool_calls = m.tool_calls.map((call, index) => ({
          id: call.id,
          function: { index, name: call.function.name, arguments: toolArguments(call) },
        }))
      }
    }
    if (role === 'tool') {
      if (m.tool_call_id) {
        out.tool_call_id = m.tool_call_id
        const name = m.name ?? toolNames.get(m.tool_call_id)
        if (name) out.tool_name = name
      } else if (m.name) {
        out.tool_name = m.name
      }
    }
    return out
  })
}

function toFormat(format: ChatRequest['response_format']): OllamaChatRequest['format'] | undefined {
  if (!format) return undefined
  if (format.type === 'json_object') return 'json'
  if (format.type === 'json_schema') {
    const schema = (format.json_schema as { schema?: Record<string, unknown> } | undefined)?.schema
    return schema ?? 'json'
  }
  return undefined
}

function toOptions(req: ChatRequest): Record<string, unknown> | undefined {
  const options: Record<string, unknown> = {}
  if (req.temperature !== undefined) options.temperature = req.temperature
  if (req.top_p !== undefined) options.top_p = req.top_p
  if (req.seed !== undefined) options.seed = req.seed
  if (typeof req.stop === 'string') options.stop = [req.stop]
  else if (Array.isArray(req.stop) && req.stop.length) options.stop = req.stop
  const maxTokens = req.max_completion_tokens ?? req.max_tokens
  if (maxTokens !== undefined) options.num_predict = maxTokens
  if (typeof req.frequency_penalty === 'number') options.frequency_penalty = req.frequency_penalty
  if (typeof req.presence_penalty === 'number') options.presence_penalty = req.presence_penalty
  return Object.keys(options).length ? options : undefined
}

/** OpenAI chat request → Ollama /api/chat body for `model` (the resolved local name). */
export function toOllamaChat(req: ChatRequest, model: string): OllamaChatRequest {
  const body: OllamaChatRequest = { model, messages: toOllamaMessages(req.messages), stream: req.stream === true }
  // tool_choice "none" means the model must not call tools: not offering them is the only way.
  if (req.tools?.length && req.tool_choice !== 'none') body.tools = req.tools
  const format = toFormat(req.response_format)
  if (format !== undefined) body.format = format
  const options = toOptions(req)
  if (options) body.options = options
  const effort = req.reasoning_effort ?? (req.reasoning as { effort?: string } | undefined)?.effort
  const think = ownEntry(THINK_LEVELS, effort) // not `in`: that accepts toString, constructor, …
  if (think !== undefined) body.think = think
  return body
}

function unixSeconds(createdAt: string | undefined): number {
  const ms = createdAt ? Date.parse(createdAt) : NaN
  return Math.floor((Number.isNaN(ms) ? Date.now() : ms) / 1000)
}

/** Ollama's counts are omitempty (absent = 0); a count that is not a number ≥ 0 drops the usage. */
function usageOf(line: OllamaChatLine): Usage | undefined {
  const prompt = line.prompt_eval_count ?? 0
  const completion = line.eval_count ?? 0
  return normalizeUsage({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion })
}

function finishReason(doneReason: string | undefined, calledTools: boolean): FinishReason {
  if (calledTools) return 'tool_calls'
  return doneReason === 'length' ? 'length' : 'stop'
}

function toOpenAIToolCall(call: OllamaToolCall): ToolCall {
  return {
    id: call.id || toolCallId(),
    type: 'function',
    function: { name: call.function.name, arguments: JSON.stringify(call.function.arguments ?? {}) },
  }
}

export function ollamaStreamError(error: unknown): UpstreamError {
  const message = typeof error === 'string' ? error : JSON.stringify(error)
  return new UpstreamError('stream_error', `error inside the Ollama stream: ${message.slice(0, 300)}`)
}

/** A whole /api/chat answer (`stream: false`) → chat.completion. */
export function fromOllamaChat(body: OllamaChatLine): ChatCompletion {
  if (body?.error !== undefined) throw ollamaStreamError(body.error)
  if (!body?.message || body.done !== true) throw new UpstreamError('malformed', 'the Ollama answer has no final message')
  const toolCalls = (body.message.tool_calls ?? []).map(toOpenAIToolCall)
  const content = body.message.content ?? ''
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: toolCalls.length && !content ? null : content,
    // Required by OpenAI's schema (issue 9 item 18); Ollama has no refusals.
    refusal: null,
  }
  if (body.message.thinking) message.reasoning_content = body.message.thinking
  if (toolCalls.length) message.tool_calls = toolCalls
  return {
    id: completionId(),
    object: 'chat.completion',
    created: unixSeconds(body.created_at),
    model: body.model ?? '',
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(body.done_reason, toolCalls.length > 0) }],
    usage: usageOf(body),
  }
}

/**
 * /api/chat NDJSON lines → chat.completion.chunks. The first chunk carries the role; each tool
 * call arrives whole in one line and becomes one fragment with its id, name and string
 * arguments. The `done` line gives finish_reason and usage (as OpenAI's `choices: []` chunk
 * when asked). An `error` line is a failure, never content; a stream without its `done` line
 * was cut, and is a failure too.
 */
export function ollamaChunks(lines: AsyncGenerator<OllamaChatLine[]>, includeUsage: boolean): AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk> {
  const id = completionId()
  let created: number | undefined
  let first = true
  let toolIndex = 0
  const texts = new TextChunks()
  return translatedChunks(lines, {
    translate(line, out) {
      if (line.error !== undefined) throw ollamaStreamError(line.error)
      created ??= unixSeconds(line.created_at)
      const message = line.message ?? {}
      // The usual line: one token of text or of thinking, nothing else.
      const field = first || message.tool_calls?.length ? undefined : textOnly(message)
      if (field !== undefined && !line.done) {
        out.push(texts.chunk(id, created, line.model ?? '', field, message[field === 'content' ? 'content' : 'thinking'] as string))
        return false
      }
      const base = { id, object: 'chat.completion.chunk' as const, created, model: line.model ?? '' }
      const delta: ChatChunk['choices'][number]['delta'] = first ? { role: 'assistant', content: '' } : {}
      if (message.thinking) delta.reasoning_content = message.thinking
      if (message.content) delta.content = message.content
      if (message.tool_calls?.length) {
        delta.tool_calls = message.tool_calls.map((call): ChunkToolCall => ({ index: toolIndex++, ...toOpenAIToolCall(call) }))
      }
      if (first || Object.keys(delta).length > 0) out.push({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })
      first = false
      if (!line.done) return false
      out.push({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: finishReason(line.done_reason, toolIndex > 0) }] })
      const usage = usageOf(line)
      if (includeUsage && usage) out.push({ ...base, choices: [], usage })
      return true
    },
    cut: () => new UpstreamError('malformed', 'the Ollama stream ended before its done line: the answer was cut'),
  })
}

/** Which one of a line's texts it carries, when it carries exactly one (a string) and no other. */
function textOnly(message: { content?: unknown; thinking?: unknown }): TextField | undefined {
  const content = typeof message.content === 'string' && message.content !== ''
  const thinking = typeof message.thinking === 'string' && message.thinking !== ''
  if (content === thinking) return undefined
  // Anything else truthy beside it (a hostile upstream's) goes the general way, as it did.
  if (content ? message.thinking : message.content) return undefined
  return content ? 'content' : 'reasoning_content'
}

/** OpenAI embeddings request → /api/embed body. Ollama embeds text, not token ids. */
export function toOllamaEmbed(req: EmbeddingRequest, model: string): OllamaEmbedRequest {
  const input = req.input
  const isText = typeof input === 'string' || (Array.isArray(input) && (input as unknown[]).every((s) => typeof s === 'string'))
  if (!isText) throw unsupported('Ollama embeds text only, not token ids')
  const body: OllamaEmbedRequest = { model, input: input as string | string[] }
  if (req.dimensions !== undefined) body.dimensions = req.dimensions
  return body
}

/** /api/embed answer → OpenAI embedding list (float arrays; the route encodes base64 when asked). */
export function fromOllamaEmbed(body: OllamaEmbedResponse, model: string): EmbeddingResponse {
  if (!Array.isArray(body?.embeddings)) throw new UpstreamError('malformed', 'the Ollama embed answer has no embeddings array')
  const tokens = isCount(body.prompt_eval_count) ? body.prompt_eval_count : 0
  return {
    object: 'list',
    data: body.embeddings.map((embedding, index) => ({ object: 'embedding', embedding, index })),
    model: body.model ?? model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  }
}
