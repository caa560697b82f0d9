// Anthropic Messages SSE events → OpenAI chat.completion.chunk objects (PROTOCOLS.md §3).
// The translator is a pure state machine (events in, chunks out); `anthropicChunks` feeds
// it from an upstream body. A stream that ends without `message_stop` was cut: a failure.
import { NATIVE_WIRE, type BatchIterator, type ChatChunk, type ChunkToolCall, type Usage } from '../contract.ts'
import { sseEventBatches, type BodyStream } from '../http/index.ts'
import { translatedChunks } from '../translated-stream.ts'
import { UpstreamError } from '../upstream-error.ts'
import { finishReason, toUsage, type AnthropicUsage } from './translate.ts'
import { withStopSequence } from '../../dialects/anthropic-messages/wire.ts'
import { parseUpstreamJson } from '../json-depth.ts'
import { TextChunks, type TextField } from '../text-chunk.ts'

type Loose = Record<string, any>
type Delta = ChatChunk['choices'][number]['delta']

/** An `error` event inside a stream (e.g. overloaded_error, "would normally be an HTTP 529"). */
export function streamFailure(data: Loose): UpstreamError {
  const error = (data.error ?? {}) as Loose
  // Cut like every upstream string that can reach a client or a log.
  const type = typeof error.type === 'string' ? error.type.slice(0, 100) : 'error'
  const kind = type === 'overloaded_error' ? 'overloaded' : 'stream_error'
  return new UpstreamError(kind, `error event inside the stream: ${type}: ${String(error.message ?? '').slice(0, 300)}`, { upstreamCode: type })
}

export class AnthropicStreamTranslator {
  readonly #includeUsage: boolean
  #id = 'msg_unknown'
  #model = ''
  readonly #created: number
  #promptUsage: AnthropicUsage = {}
  #roleSent = false
  /** Anthropic content-block index → OpenAI tool_calls index (counts tool blocks only). */
  readonly #toolIndex = new Map<number, number>()
  #stopped = false
  /** Text chunks with their own JSON text; none when the chunks carry the upstream's events (a native stream). */
  readonly #texts: TextChunks | undefined

  constructor(includeUsage: boolean, now = Date.now(), { withJsonText = true } = {}) {
    this.#includeUsage = includeUsage
    this.#created = Math.floor(now / 1000)
    this.#texts = withJsonText ? new TextChunks() : undefined
  }

  /** True once `message_stop` has arrived: the answer is complete. */
  get stopped(): boolean {
    return this.#stopped
  }

  /** A chunk with this stream's id, model and created, and no choices yet. */
  emptyChunk(): ChatChunk {
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [] }
  }

  #chunk(delta: Delta, finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk {
    return { id: this.#id, object: 'chat.completion.chunk', created: this.#created, model: this.#model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }
  }

  /**
   * The role chunk is sent with the first real output rather than at `message_start`: an
   * `error` event right after `message_start` (overload) then fails the attempt before
   * anything was committed, and the router can still try another provider.
   */
  #emit(delta: Delta, finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk[] {
    return this.#afterRole(this.#chunk(delta, finish))
  }

  /** One token of text or reasoning: the usual event of an answer (a hostile upstream's non-string passes as it did, untemplated). */
  #emitText(field: TextField, text: unknown): ChatChunk[] {
    if (this.#texts && typeof text === 'string') return this.#afterRole(this.#texts.chunk(this.#id, this.#created, this.#model, field, text))
    return this.#emit((field === 'content' ? { content: text } : { reasoning_content: text }) as Delta)
  }

  #afterRole(chunk: ChatChunk): ChatChunk[] {
    if (this.#roleSent) return [chunk]
    this.#roleSent = true
    return [this.#chunk({ role: 'assistant', content: '' }), chunk]
  }

  #toolCall(call: ChunkToolCall): ChatChunk[] {
    return this.#emit({ tool_calls: [call] })
  }

  /** One SSE event (its `type`, its parsed `data`) → the chunks it produces. */
  push(type: string, data: Loose): ChatChunk[] {
    if (this.#stopped) return []
    switch (type) {
      case 'message_start': {
        const message = (data.message ?? {}) as Loose
        if (typeof message.id === 'string') this.#id = message.id
        if (typeof message.model === 'string') this.#model = message.model
        this.#promptUsage = { ...(message.usage ?? {}) }
        return []
      }
      case 'content_block_start': {
        const block = (data.content_block ?? {}) as Loose
        if (block.type === 'tool_use') {
          const index = this.#toolIndex.size
          this.#toolIndex.set(data.index, index)
          return this.#toolCall({ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } })
        }
        if (block.type === 'text' && block.text) return this.#emitText('content', block.text)
        if (block.type === 'thinking' && block.thinking) return this.#emitText('reasoning_content', block.thinking)
        return []
      }
      case 'content_block_delta': {
        const delta = (data.delta ?? {}) as Loose
        if (delta.type === 'text_delta' && delta.text) return this.#emitText('content', delta.text)
        if (delta.type === 'thinking_delta' && delta.thinking) return this.#emitText('reasoning_content', delta.thinking)
        if (delta.type === 'input_json_delta' && delta.partial_json) {
          const index = this.#toolIndex.get(data.index)
          if (index === undefined) throw new UpstreamError('malformed', `input_json_delta for block ${data.index}, which is not a tool_use block`)
          return this.#toolCall({ index, function: { arguments: delta.partial_json } })
        }
        return [] // signature_delta, citations_delta: nothing for an OpenAI client
      }
      case 'message_delta': {
        const finish = finishReason(data.delta?.stop_reason) ?? 'stop'
        const out = this.#emit({}, finish)
        if (data.delta?.stop_reason === 'stop_sequence' && typeof data.delta.stop_sequence === 'string') {
          withStopSequence(out.at(-1)!.choices[0], data.delta.stop_sequence)
        }
        const usage = this.#includeUsage ? this.usage(data.usage ?? {}) : undefined
        if (usage) out.push({ ...this.#chunk({}), choices: [], usage })
        return out
      }
      case 'message_stop':
        this.#stopped = true
        return []
      case 'error':
        throw streamFailure(data)
      default:
        return [] // ping, content_block_stop, and event types Anthropic may add later
    }
  }

  /** message_delta's usage is cumulative; newer API versions may repeat input counts there. */
  usage(final: AnthropicUsage): Usage | undefined {
    return toUsage({ ...this.#promptUsage, ...withoutNulls(final) }, final.output_tokens ?? this.#promptUsage.output_tokens ?? 0)
  }
}

function withoutNulls(usage: AnthropicUsage): AnthropicUsage {
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== null && v !== undefined)) as AnthropicUsage
}

/** The event as Anthropic framed it: `event: …` then its data line(s), then a blank line. */
function wireText(event: { event?: string; data: string }): string {
  const head = event.event ? `event: ${event.event}\n` : ''
  return `${head}${event.data.split('\n').map((line) => `data: ${line}`).join('\n')}\n\n`
}

/** A chunk that shows nothing by itself: it carries native wire text to the client. */
function carrier(translator: AnthropicStreamTranslator): ChatChunk {
  return { ...translator.emptyChunk(), choices: [] }
}

/**
 * Chunks of an Anthropic Messages stream. With `native` (the client speaks Messages too), every
 * upstream event's own text rides on the chunks as NATIVE_WIRE, so a Messages client gets the
 * upstream's events byte for byte: the text of events that make no chunk (message_start,
 * content_block_stop, ping, signature_delta) waits for the next chunk; an event that makes two
 * chunks puts its text on the last (the one with content) and '' on the first; `message_stop` rides on a carrier
 * chunk with `choices: []`. Chunks still carry their translation, for an encoder of another
 * dialect and for everything that reads chunks (sessions, usage, resume).
 */
export function anthropicChunks(body: BodyStream, signal: AbortSignal, includeUsage: boolean, native = false): AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk> {
  // A native stream's chunks carry the upstream's events (NATIVE_WIRE): that is the text that goes out, and the one the scrubber must read.
  const translator = new AnthropicStreamTranslator(includeUsage, Date.now(), { withJsonText: !native })
  let pendingWire = ''
  return translatedChunks(sseEventBatches(body, signal), {
    translate(event, out) {
      if (event.data === '') return false
      let data: Loose
      try {
        data = parseUpstreamJson(event.data)
      } catch (err) {
        if (err instanceof UpstreamError) throw err
        throw new UpstreamError('malformed', `malformed SSE data from upstream: ${event.data.slice(0, 80)}`)
      }
      const chunks = translator.push(typeof data.type === 'string' ? data.type : (event.event ?? ''), data)
      if (native) {
        pendingWire += wireText(event)
        if (translator.stopped && chunks.length === 0) chunks.push(carrier(translator))
        // On the last chunk: the one that carries content (a role chunk before it may be dropped by a resume).
        chunks.forEach((chunk, i) => {
          chunk[NATIVE_WIRE] = { dialect: 'anthropic-messages', text: i === chunks.length - 1 ? pendingWire : '' }
        })
        if (chunks.length) pendingWire = ''
      }
      for (const chunk of chunks) out.push(chunk)
      return translator.stopped
    },
    cut: () => new UpstreamError('malformed', 'the upstream stream ended before message_stop: the answer was cut'),
  })
}
