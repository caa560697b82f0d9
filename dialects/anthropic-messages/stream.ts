// Messages stream encoder: internal chunks → Anthropic's SSE events, exactly in Anthropic's
// order: message_start; per block content_block_start, content_block_delta (text_delta,
// input_json_delta, thinking_delta), content_block_stop; message_delta (stop_reason, usage);
// message_stop. A failure after commit is `event: error` with Anthropic's body and no
// message_stop. Pings during long upstream silences come from the SSE writer's keep-alive.
//
// Native passthrough: chunks from the `anthropic` provider serving this client's own body carry
// the upstream's event text (NATIVE_WIRE); it is written byte for byte (signatures,
// cache fields, fields tiergate does not model), and the encoder only follows which blocks it
// opened and closed. The first chunk with content and no wire text (a resumed leg on another
// provider, or a chunk the router rebuilt) switches to translation for the rest of the stream,
// continuing the block numbering the native events left off at.
import { NATIVE_WIRE, type ChatChunk, type ChunkToolCall, type Usage } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import type { SseEncoder } from '../sse-body.ts'
import { ANTHROPIC_ERROR_TYPES, PING_EVENT, anthropicErrorType, blockDeltaEvent, sseEvent, stopReason, stopSequenceOf, toAnthropicUsage, type StopReason } from './wire.ts'
import { messageId, toolUseId } from './ids.ts'

type BlockKind = 'text' | 'thinking' | 'tool_use' | 'other'

interface OpenBlock {
  index: number
  kind: BlockKind
  /** tool_use: the OpenAI tool_calls index it translates. */
  toolIndex?: number
}

export interface MessagesStreamOptions {
  /** The model the client asked for, named in message_start until a chunk names the upstream's. */
  model: string
  /** The client's stop_sequences: a choice's `stop_reason` naming one becomes `stop_sequence`. */
  stopSequences?: string[]
  /** How long the upstream may be silent before a `ping` is written. */
  pingIntervalMs: number
}

const hasText = (value: unknown): value is string => typeof value === 'string' && value.length > 0

/** What a native event's text says about the blocks (only the events that open or close something are parsed). */
function* nativeEvents(text: string): Generator<{ type: string; data: () => Record<string, any> }> {
  for (const frame of text.split('\n\n')) {
    if (!frame) continue
    const type = /^event: (\S+)/m.exec(frame)?.[1]
    if (!type) continue
    yield { type, data: () => JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? '{}') }
  }
}

export class MessagesStreamEncoder implements SseEncoder {
  readonly keepAlive: { intervalMs: number; frame: string }
  readonly #options: MessagesStreamOptions
  #native = true
  #started = false
  #open: OpenBlock | undefined
  #nextIndex = 0
  /** OpenAI tool_calls index → its block (blocks are closed for good once another starts). */
  readonly #toolBlocks = new Map<number, number>()
  #finish: string | null = null
  #stopSequence: string | null = null
  #usage: Usage | undefined
  #deltaSent = false
  /** An OpenAI `refusal` delta was written (as text): the stop reason is Anthropic's `refusal`. */
  #refused = false
  #stopSent = false

  constructor(options: MessagesStreamOptions) {
    this.#options = options
    this.keepAlive = { intervalMs: options.pingIntervalMs, frame: PING_EVENT }
  }

  chunk = (chunk: ChatChunk): string => {
    this.#note(chunk)
    const wire = chunk[NATIVE_WIRE]
    if (this.#native && wire?.dialect === 'anthropic-messages') {
      this.#observe(wire.text)
      return wire.text
    }
    if (this.#native && !this.#carriesSomething(chunk)) return ''
    this.#native = false
    return this.#translate(chunk)
  }

  end = (): string => {
    if (this.#stopSent) return ''
    let out = this.#start(undefined)
    out += this.#closeBlock()
    if (!this.#deltaSent) {
      const reason: StopReason = this.#refused ? 'refusal' : stopReason(this.#finish, this.#stopSequence)
      const usage = toAnthropicUsage(this.#usage)
      out += sseEvent({ type: 'message_delta', delta: { stop_reason: reason, stop_sequence: reason === 'stop_sequence' ? this.#stopSequence : null }, usage })
    }
    this.#stopSent = true
    return out + sseEvent({ type: 'message_stop' })
  }

  error = (err: unknown): string => sseEvent({ type: 'error', error: streamErrorBody(err) })

  /** Every chunk, native or not: what the clean end will report. */
  #note(chunk: ChatChunk): void {
    if (chunk.usage) this.#usage = chunk.usage
    const choice = chunk.choices.find((c) => c.index === 0)
    if (choice?.finish_reason) {
      this.#finish = choice.finish_reason
      this.#stopSequence = stopSequenceOf(choice, this.#options.stopSequences)
    }
  }

  #carriesSomething(chunk: ChatChunk): boolean {
    const delta = chunk.choices.find((c) => c.index === 0)?.delta
    return hasText(delta?.content) || hasText(delta?.reasoning_content) || hasText(delta?.refusal) || (delta?.tool_calls?.length ?? 0) > 0
  }

  /** Follow what native events opened and closed, so a translated leg continues consistently. */
  #observe(text: string): void {
    for (const event of nativeEvents(text)) {
      switch (event.type) {
        case 'message_start':
          this.#started = true
          break
        case 'content_block_start': {
          const data = event.data()
          const type = data.content_block?.type
          const kind: BlockKind = type === 'text' || type === 'thinking' || type === 'tool_use' ? type : 'other'
          this.#open = { index: data.index, kind }
          this.#nextIndex = Math.max(this.#nextIndex, Number(data.index) + 1)
          break
        }
        case 'content_block_stop':
          this.#open = undefined
          break
        case 'message_delta':
          this.#deltaSent = true
          break
        case 'message_stop':
          this.#stopSent = true
          break
      }
    }
  }

  #start(chunk: ChatChunk | undefined): string {
    if (this.#started) return ''
    this.#started = true
    const usage = toAnthropicUsage(chunk?.usage)
    return sseEvent({
      type: 'message_start',
      message: {
        id: messageId(chunk?.id), type: 'message', role: 'assistant', model: chunk?.model || this.#options.model,
        content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: usage.input_tokens, cache_creation_input_tokens: usage.cache_creation_input_tokens, cache_read_input_tokens: usage.cache_read_input_tokens, output_tokens: 0 },
      },
    })
  }

  #closeBlock(): string {
    if (!this.#open) return ''
    const index = this.#open.index
    this.#open = undefined
    return sseEvent({ type: 'content_block_stop', index })
  }

  /** The open block if it is of this kind, else a new one (the previous one stopped). */
  #block(kind: BlockKind, contentBlock: Record<string, unknown>, toolIndex?: number): { out: string; index: number } {
    if (this.#open?.kind === kind && (kind !== 'tool_use' || this.#open.toolIndex === toolIndex)) return { out: '', index: this.#open.index }
    let out = this.#closeBlock()
    const index = this.#nextIndex++
    this.#open = { index, kind, toolIndex }
    out += sseEvent({ type: 'content_block_start', index, content_block: contentBlock })
    return { out, index }
  }

  #translate(chunk: ChatChunk): string {
    let out = this.#start(chunk)
    const delta = chunk.choices.find((c) => c.index === 0)?.delta
    if (!delta) return out
    if (hasText(delta.reasoning_content)) {
      const block = this.#block('thinking', { type: 'thinking', thinking: '', signature: '' })
      out += block.out + blockDeltaEvent(block.index, 'thinking', delta.reasoning_content)
    }
    if (hasText(delta.content)) {
      const block = this.#block('text', { type: 'text', text: '' })
      out += block.out + blockDeltaEvent(block.index, 'text', delta.content)
    }
    if (hasText(delta.refusal)) {
      this.#refused = true
      const block = this.#block('text', { type: 'text', text: '' })
      out += block.out + blockDeltaEvent(block.index, 'text', delta.refusal)
    }
    for (const fragment of delta.tool_calls ?? []) out += this.#toolFragment(fragment)
    return out
  }

  #toolFragment(fragment: ChunkToolCall): string {
    let out = ''
    let index = this.#toolBlocks.get(fragment.index)
    if (index === undefined || this.#open?.index !== index) {
      // Arguments for a call whose block has already stopped (an upstream interleaving parallel
      // calls): Anthropic cannot reopen a block. Upstreams send calls one after the other, and
      // the router's resume holds each call until it is whole; dropped rather than misfiled.
      if (index !== undefined) return ''
      const block = this.#block('tool_use', { type: 'tool_use', id: toolUseId(fragment.id), name: fragment.function?.name ?? '', input: {} }, fragment.index)
      out += block.out
      index = block.index
      this.#toolBlocks.set(fragment.index, index)
    }
    const partial = fragment.function?.arguments
    if (hasText(partial)) out += sseEvent({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } })
    return out
  }
}

/** Anthropic's error body for a stream that failed after commit (an upstream's own type kept when it is Anthropic's). */
export function streamErrorBody(err: unknown): { type: string; message: string } {
  const upstream = err instanceof UpstreamError ? err : undefined
  const upstreamType = upstream?.upstreamCode
  const type = upstreamType && ANTHROPIC_ERROR_TYPES.has(upstreamType)
    ? upstreamType
    : upstream?.kind === 'overloaded' ? 'overloaded_error' : anthropicErrorType(upstream?.status ?? 500)
  const message = upstream ? `The stream failed after it had started: ${upstream.message}` : 'The stream failed after it had started.'
  return { type: type === 'invalid_request_error' ? 'api_error' : type, message }
}
