// Internal chunks → the Responses API's typed SSE events. Pure: it returns event text.
//
//   response.created, response.in_progress (once, before the first chunk's events)
//   per output item: response.output_item.added … response.output_item.done, with
//     message:       response.content_part.added, response.output_text.delta*, .done, response.content_part.done
//     reasoning:     response.reasoning_summary_part.added, response.reasoning_summary_text.delta*, .done, …part.done
//     function_call: response.function_call_arguments.delta*, .done
//   response.completed (or response.incomplete) — or, after a failure, response.failed and nothing after it.
// Every event has a `sequence_number`, counting from 0. A chunk of a native passthrough carries
// the upstream's own event text (NATIVE_WIRE), written as it is. Router notes (STREAM_NOTE)
// are written as SSE comments by dialects/sse-body.ts, which drives this encoder.
import { NATIVE_WIRE, type ChatChunk, type FinishReason, type Usage } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import type { SseEncoder } from '../sse-body.ts'
import { newId } from './ids.ts'
import { baseResponse, finishResponse, functionCallItem, messageItem, outputText, type ResponseFrame } from './response.ts'
import type { Item, ResponseObject } from './types.ts'
import { NativeFollower } from './native-follow.ts'

interface OpenItem {
  kind: 'message' | 'reasoning' | 'function_call'
  index: number
  id: string
  text: string
  /** message: its one content part's type (a refusal is a message of its own). */
  part?: 'output_text' | 'refusal'
  /** function_call: */
  callId?: string
  name?: string
}

const contentPart = (part: 'output_text' | 'refusal', text: string) => (part === 'refusal' ? { type: 'refusal', refusal: text } : outputText(text))

/** One SSE event in OpenAI's framing: `event: <type>` then the JSON data. */
export function sseEvent(data: { type: string; [k: string]: unknown }): string {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`
}

const TEXT_DELTA_HEAD = 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":'

/**
 * `sseEvent({ type: 'response.output_text.delta', sequence_number, item_id, output_index,
 * content_index: 0, delta, logprobs: [] })`, the same bytes, written without building the event
 * object: one per token of every Responses stream (issue 14). Only the strings need JSON's
 * escaping; the numbers are integers.
 */
export function textDeltaEvent(sequence: number, item: { id: string; index: number }, delta: string): string {
  return `${TEXT_DELTA_HEAD}${sequence},"item_id":${JSON.stringify(item.id)},"output_index":${item.index},"content_index":0,"delta":${JSON.stringify(delta)},"logprobs":[]}\n\n`
}

export class ResponsesStreamEncoder implements SseEncoder {
  readonly #frame: ResponseFrame
  readonly #provider: string
  /** The clean end's events, computed by seal() so that the response can be stored before they leave. */
  #tail: string | undefined
  #base: ResponseObject | undefined
  #sequence = 0
  readonly #output: Item[] = []
  #message: OpenItem | undefined
  #reasoning: OpenItem | undefined
  /** Tool calls by their Chat index; they stay open until the answer ends (fragments may interleave). */
  readonly #calls = new Map<number, OpenItem>()
  #finish: FinishReason | undefined
  #usage: Usage | undefined
  /** Decided by the first chunk; a native stream may turn translated once, never back. */
  #mode: 'native' | 'translated' | undefined
  readonly #native = new NativeFollower()
  #final: ResponseObject | undefined

  constructor(frame: ResponseFrame, provider: string) {
    this.#frame = frame
    this.#provider = provider
  }

  #event(type: string, fields: Record<string, unknown>): string {
    return sseEvent({ type, sequence_number: this.#sequence++, ...fields })
  }

  /**
   * Events for one chunk. The first chunk decides: a native stream writes the upstream's own
   * event text; once a chunk without it carries something (a resumed leg, or a chunk the router
   * rewrote), the rest is encoded here, continuing the upstream's sequence and its open items —
   * the two are never interleaved again.
   */
  chunk(chunk: ChatChunk): string {
    const wire = chunk[NATIVE_WIRE]?.dialect === 'openai-responses' ? chunk[NATIVE_WIRE] : undefined
    // Native only from the upstream's own response.created on: a stream whose first native chunks
    // were rewritten on the way (the router holds tool-call fragments) is encoded here instead.
    this.#mode ??= wire && /^(event: response\.created\n|data: \{"type":"response\.created")/.test(wire.text) ? 'native' : 'translated'
    const choice = chunk.choices.find((c) => c.index === 0)
    let out = ''
    if (this.#mode === 'native') {
      if (wire) {
        this.#native.read(wire.text, wire.events)
        this.#sequence = this.#native.nextSequence
        return wire.text
      }
      if (!choice && !chunk.usage) return '' // a note-only chunk: nothing of ours to add
      this.#mode = 'translated'
      out += this.#adopt(chunk.model)
    }
    if (chunk.usage) this.#usage = chunk.usage
    if (!this.#base) out += this.#start(chunk.model)
    if (!choice) return out
    const delta = choice.delta
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) out += this.#reasoningDelta(delta.reasoning_content)
    if (typeof delta.content === 'string' && delta.content) out += this.#textDelta(delta.content)
    if (typeof delta.refusal === 'string' && delta.refusal) out += this.#textDelta(delta.refusal, 'refusal')
    for (const fragment of delta.tool_calls ?? []) out += this.#callFragment(fragment)
    if (choice.finish_reason) this.#finish = choice.finish_reason
    return out
  }

  #start(model: string): string {
    this.#base = baseResponse(this.#frame, model)
    // Sequence numbers continue after a native leg (a resume onto a translated provider).
    return this.#event('response.created', { response: this.#base }) + this.#event('response.in_progress', { response: this.#base })
  }

  /**
   * A translated leg after a native one (a resume): the upstream already sent response.created,
   * and the text it left open continues in the same item (same item_id, output_index).
   */
  #adopt(model: string): string {
    const native = this.#native
    this.#base = { ...(native.response ?? baseResponse(this.#frame, model)), status: 'in_progress', output: [] }
    this.#output.push(...native.output)
    for (const open of native.open.values()) {
      if (open.kind === 'message') this.#message = { ...open }
      else this.#reasoning = { ...open }
    }
    return ''
  }

  #open(kind: OpenItem['kind'], item: Item): { open: OpenItem; text: string } {
    const open: OpenItem = { kind, index: this.#output.length, id: item.id, text: '' }
    this.#output.push(item)
    return { open, text: this.#event('response.output_item.added', { output_index: open.index, item }) }
  }

  #reasoningDelta(delta: string): string {
    let out = ''
    if (!this.#reasoning) {
      out += this.#closeMessage()
      const opened = this.#open('reasoning', { id: newId('rs'), type: 'reasoning', summary: [] })
      this.#reasoning = opened.open
      out += opened.text
      out += this.#event('response.reasoning_summary_part.added', { item_id: opened.open.id, output_index: opened.open.index, summary_index: 0, part: { type: 'summary_text', text: '' } })
    }
    const open = this.#reasoning
    open.text += delta
    return out + this.#event('response.reasoning_summary_text.delta', { item_id: open.id, output_index: open.index, summary_index: 0, delta })
  }

  #closeReasoning(): string {
    const open = this.#reasoning
    if (!open) return ''
    this.#reasoning = undefined
    const part = { type: 'summary_text', text: open.text }
    const item = { id: open.id, type: 'reasoning', summary: [part] }
    this.#output[open.index] = item
    return this.#event('response.reasoning_summary_text.done', { item_id: open.id, output_index: open.index, summary_index: 0, text: open.text })
      + this.#event('response.reasoning_summary_part.done', { item_id: open.id, output_index: open.index, summary_index: 0, part })
      + this.#event('response.output_item.done', { output_index: open.index, item })
  }

  #textDelta(delta: string, part: 'output_text' | 'refusal' = 'output_text'): string {
    let out = this.#closeReasoning()
    if (this.#message && (this.#message.part ?? 'output_text') !== part) out += this.#closeMessage()
    if (!this.#message) {
      const opened = this.#open('message', { id: newId('msg'), type: 'message', status: 'in_progress', content: [], role: 'assistant' })
      this.#message = { ...opened.open, part }
      out += opened.text
      out += this.#event('response.content_part.added', { item_id: opened.open.id, output_index: opened.open.index, content_index: 0, part: contentPart(part, '') })
    }
    const open = this.#message
    open.text += delta
    if (part === 'refusal') return out + this.#event('response.refusal.delta', { item_id: open.id, output_index: open.index, content_index: 0, delta })
    return out + textDeltaEvent(this.#sequence++, open, delta)
  }

  #closeMessage(): string {
    const open = this.#message
    if (!open) return ''
    this.#message = undefined
    const part = open.part ?? 'output_text'
    const item = { ...messageItem(open.id, open.text), content: [contentPart(part, open.text)] }
    this.#output[open.index] = item
    const where = { item_id: open.id, output_index: open.index, content_index: 0 }
    return (part === 'refusal'
      ? this.#event('response.refusal.done', { ...where, refusal: open.text })
      : this.#event('response.output_text.done', { ...where, text: open.text, logprobs: [] }))
      + this.#event('response.content_part.done', { ...where, part: contentPart(part, open.text) })
      + this.#event('response.output_item.done', { output_index: open.index, item })
  }

  #callFragment(fragment: NonNullable<ChatChunk['choices'][number]['delta']['tool_calls']>[number]): string {
    let out = ''
    let open = this.#calls.get(fragment.index)
    if (!open) {
      out += this.#closeReasoning() + this.#closeMessage()
      const callId = fragment.id ?? newId('fc').replace(/^fc_/, 'call_')
      const name = fragment.function?.name ?? ''
      const opened = this.#open('function_call', functionCallItem(newId('fc'), { id: callId, function: { name, arguments: '' } }, 'in_progress'))
      open = { ...opened.open, callId, name }
      this.#calls.set(fragment.index, open)
      out += opened.text
    } else if (fragment.function?.name && !open.name) {
      open.name = fragment.function.name
    }
    const delta = fragment.function?.arguments
    if (delta) {
      open.text += delta
      out += this.#event('response.function_call_arguments.delta', { item_id: open.id, output_index: open.index, delta })
    }
    return out
  }

  #closeCalls(): string {
    let out = ''
    for (const open of this.#calls.values()) {
      const item = functionCallItem(open.id, { id: open.callId!, function: { name: open.name ?? '', arguments: open.text } })
      this.#output[open.index] = item
      out += this.#event('response.function_call_arguments.done', { item_id: open.id, output_index: open.index, name: open.name ?? '', arguments: open.text })
        + this.#event('response.output_item.done', { output_index: open.index, item })
    }
    this.#calls.clear()
    return out
  }

  /**
   * The stream ended cleanly: close every open item and build the final response (then
   * response() has it, to store before the client can see the end and continue the chain).
   */
  seal(nowSeconds = Math.floor(Date.now() / 1000)): void {
    if (this.#tail !== undefined) return
    if (this.#mode === 'native') {
      this.#tail = '' // the upstream sent its own terminal event
      return
    }
    let out = this.#base ? '' : this.#start(this.#frame.body.model)
    out += this.#closeReasoning() + this.#closeMessage() + this.#closeCalls()
    this.#final = finishResponse(this.#base!, [...this.#output], this.#finish, this.#usage, nowSeconds)
    const type = this.#final.status === 'incomplete' ? 'response.incomplete' : 'response.completed'
    this.#tail = out + this.#event(type, { response: this.#final })
  }

  /** The clean end: response.completed (or response.incomplete) after the last items close. */
  end(): string {
    this.seal()
    return this.#tail!
  }

  /** A failure after commit (SseEncoder): response.failed, and nothing after it. */
  error(err: unknown): string {
    const upstream = err instanceof UpstreamError ? err : undefined
    const message = upstream
      ? `The stream from ${this.#provider} failed after it had started: ${upstream.message}`
      : `The stream from ${this.#provider} failed after it had started.`
    return this.fail(upstream?.kind === 'rate_limited' ? 'rate_limit_exceeded' : 'server_error', message)
  }

  /** response.failed with this error; nothing may follow it. */
  fail(code: 'server_error' | 'rate_limit_exceeded', message: string): string {
    const model = this.#base?.model ?? ''
    let out = this.#base || this.#mode === 'native' ? '' : this.#start(model)
    const base = this.#base ?? this.#native.response ?? baseResponse(this.#frame, model)
    const native = this.#mode === 'native'
    const output = (native ? this.#native.output : this.#output).map((item, index) =>
      ((native ? this.#native.open.has(index) : this.#isOpen(index)) ? { ...item, status: 'incomplete' } : item))
    this.#final = { ...base, status: 'failed', error: { code, message }, output, usage: this.#usage ? finishResponse(base, [], undefined, this.#usage, 0).usage : null }
    return out + this.#event('response.failed', { response: this.#final })
  }

  #isOpen(index: number): boolean {
    return this.#message?.index === index || this.#reasoning?.index === index || [...this.#calls.values()].some((c) => c.index === index)
  }

  /** The response as the client received it, once end() or fail() ran (or the upstream's own, for a native stream). */
  response(): ResponseObject | undefined {
    return this.#mode === 'native' ? this.#native.final ?? this.#final : this.#final
  }
}
