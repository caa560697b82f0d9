// A native Responses upstream (OpenAI's own /v1/responses) → internal chunks and completions,
// so that the router, sessions, metrics and a resume see what they see from every provider.
// Each chunk also carries the upstream's own event text (NATIVE_WIRE): the Responses encoder
// writes that, byte for byte. Pure.
import { NATIVE_WIRE, type ChatChunk, type ChatCompletion, type FinishReason, type ToolCall, type Usage } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import type { Item, ResponseObject, ResponsesUsage } from './types.ts'
import { parseUpstreamJson } from '../../providers/json-depth.ts'

type Loose = Record<string, any>

export function toChatUsage(usage: ResponsesUsage | null | undefined): Usage | undefined {
  if (!usage) return undefined
  const result: Usage = { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens, total_tokens: usage.total_tokens }
  const cached = usage.input_tokens_details?.cached_tokens
  if (cached) result.prompt_tokens_details = { cached_tokens: cached }
  const reasoning = usage.output_tokens_details?.reasoning_tokens
  if (reasoning) result.completion_tokens_details = { reasoning_tokens: reasoning }
  return result
}

function finishOf(response: ResponseObject, hasCalls: boolean): FinishReason {
  if (response.status === 'incomplete') return response.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length'
  return hasCalls ? 'tool_calls' : 'stop'
}

function summaryText(item: Item): string {
  const parts = [...(item.summary ?? []), ...(item.content ?? [])]
  return parts.map((p: Item) => (typeof p.text === 'string' ? p.text : '')).join('')
}

/** A failed upstream response (in a body or a `response.failed` event) as the router's error. */
export function failureOf(error: Loose | null | undefined): UpstreamError {
  const code = typeof error?.code === 'string' ? error.code : undefined
  const kind = code === 'rate_limit_exceeded' ? 'rate_limited' : 'stream_error'
  return new UpstreamError(kind, `the response failed: ${String(error?.message ?? 'no error given').slice(0, 300)}`, { upstreamCode: code })
}

/** A whole native response object → the internal completion (the body text rides along as NATIVE_WIRE). */
export function responseToCompletion(response: ResponseObject, text: string): ChatCompletion {
  if (!response || response.object !== 'response' || !Array.isArray(response.output)) throw new UpstreamError('malformed', 'the upstream answer is not a response object')
  if (response.status === 'failed') throw failureOf(response.error)
  let content = ''
  let reasoning = ''
  const toolCalls: ToolCall[] = []
  for (const item of response.output) {
    if (item.type === 'message') content += (item.content ?? []).map((p: Item) => p.text ?? p.refusal ?? '').join('')
    else if (item.type === 'reasoning') reasoning += summaryText(item)
    else if (item.type === 'function_call') toolCalls.push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments ?? '' } })
  }
  const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: toolCalls.length && !content ? null : content }
  if (toolCalls.length) message.tool_calls = toolCalls
  if (reasoning) message.reasoning_content = reasoning
  const completion: ChatCompletion = {
    id: response.id,
    object: 'chat.completion',
    created: response.created_at,
    model: response.model,
    choices: [{ index: 0, message, finish_reason: finishOf(response, toolCalls.length > 0) }],
  }
  const usage = toChatUsage(response.usage)
  if (usage) completion.usage = usage
  completion[NATIVE_WIRE] = { dialect: 'openai-responses', text }
  return completion
}

/**
 * Native SSE events → chunks. Until the first chunk that carries something for the client,
 * events that carry nothing on their own (response.created, …item.added, a built-in tool's
 * progress) wait and leave with it, so the router's commit point still falls on the first real
 * content: a native stream that fails before it stays invisible. After that first chunk (the
 * commit), every event leaves at once — a `choices: []` chunk if need be — so nothing waits on
 * the next token (a long web search keeps the client informed, and the idle clock fed).
 * No event is ever lost or reordered.
 */
export class NativeEventReader {
  #pending = ''
  /** The events of #pending, as parsed here (the encoder follows them without parsing again). */
  #pendingEvents: unknown[] = []
  #id = ''
  #model = ''
  #created = 0
  /** output_index → Chat tool-call index. */
  readonly #calls = new Map<number, number>()
  #finished = false
  /** A chunk with content has gone: from now on no event waits. */
  #started = false

  get finished(): boolean {
    return this.#finished
  }

  #chunk(delta: ChatChunk['choices'][number]['delta'] | undefined, finish: FinishReason = null, usage?: Usage): ChatChunk {
    const chunk: ChatChunk = { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: delta ? [{ index: 0, delta, finish_reason: finish }] : [] }
    if (usage) chunk.usage = usage
    chunk[NATIVE_WIRE] = { dialect: 'openai-responses', text: this.#pending, events: this.#pendingEvents }
    this.#pending = ''
    this.#pendingEvents = []
    if (delta) this.#started = true
    return chunk
  }

  /** One upstream event (its `event:` name and `data:` text) → a chunk to pass on, or undefined while it waits. */
  accept(name: string | undefined, data: string): ChatChunk | undefined {
    let event: Loose
    try {
      event = parseUpstreamJson(data)
    } catch (err) {
      if (err instanceof UpstreamError) throw err
      throw new UpstreamError('malformed', `malformed SSE data from the Responses upstream: ${data.slice(0, 80)}`)
    }
    const type = String(event.type ?? name ?? '')
    if (type === 'error') throw failureOf(event.error ?? event)
    if (type === 'response.failed') throw failureOf(event.response?.error)
    // OpenAI's framing is `event: <type>` + one `data:` line; rebuilt as such it is the upstream's bytes.
    this.#pending += `${name ? `event: ${name}\n` : ''}data: ${data}\n\n`
    this.#pendingEvents.push(event)
    if (event.response) {
      this.#id = event.response.id ?? this.#id
      this.#model = event.response.model ?? this.#model
      this.#created = event.response.created_at ?? this.#created
    }
    switch (type) {
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        return this.#chunk({ content: String(event.delta ?? '') })
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        return this.#chunk({ reasoning_content: String(event.delta ?? '') })
      case 'response.output_item.added': {
        if (event.item?.type !== 'function_call') return undefined
        const index = this.#calls.size
        this.#calls.set(event.output_index, index)
        return this.#chunk({ tool_calls: [{ index, id: event.item.call_id, type: 'function', function: { name: event.item.name, arguments: event.item.arguments ?? '' } }] })
      }
      case 'response.function_call_arguments.delta': {
        const index = this.#calls.get(event.output_index) ?? 0
        return this.#chunk({ tool_calls: [{ index, function: { arguments: String(event.delta ?? '') } }] })
      }
      case 'response.completed':
      case 'response.incomplete': {
        this.#finished = true
        const response = event.response as ResponseObject
        return this.#chunk({}, finishOf(response, this.#calls.size > 0), toChatUsage(response.usage))
      }
      default:
        return this.#started ? this.#chunk(undefined) : undefined
    }
  }

  /** The upstream's stream ended: without a terminal event the answer was cut. */
  end(): void {
    if (!this.#finished) throw new UpstreamError('malformed', 'the Responses upstream stream ended before response.completed: the answer was cut')
  }
}
