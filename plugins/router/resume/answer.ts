// One answer streamed to the client, possibly written by several legs (the first upstream,
// then continuations on other candidates after a mid-stream failure). The router feeds each
// leg's chunks to accept() and sends what comes out; on a failure it asks canResume(), builds
// continuation(strategy) for the next candidate and calls startLeg() before feeding its chunks.
//
// What the client sees is one coherent stream: the first leg's id and created, no repeated and
// no missing text (overlap.ts), tool calls whole (tool-calls.ts, unless STREAM_TOOL_CALLS=live),
// one finish_reason, usage of what it received (usage.ts). No network, no timers; a resumed
// answer's token counts come synchronously from a worker thread (token-count.ts).
//
// Driving it (for the router):
//   const answer = new ResumableAnswer(req, { holdToolCalls: STREAM_TOOL_CALLS !== 'live' })
//   for each chunk of leg 1: yield* answer.accept(chunk)       (the first chunk included)
//   leg ends cleanly:        yield* answer.finish()
//   leg fails:  answer.finished() → the client has its finish_reason: end cleanly, no resume;
//               answer.canResume() → send answer.continuation(strategy) (model set by the
//               router) to the next candidate, then answer.startLeg(strategy, model) and feed
//               its chunks to accept() the same way; else end with the error as today.
//   accept() may throw ContinuationDiverged (a start-over that stopped matching what the
//   client has): treat it as that leg's failure (a malformed stream), canResume() stays true.
//   answer.usage() is what the client received, for the `usage` event.
import { NATIVE_WIRE, type ChatChunk, type ChatRequest, type ToolCall, type Usage } from '../../../providers/contract.ts'
import { MIN_REPEAT_WORDS, OverlapCutter } from './overlap.ts'
import { RepeatedCallFilter, ToolCallHolder, wholeFragment } from './tool-calls.ts'
import { continuationRequest, type ResumeStrategy } from './continuation.ts'
import { carryNote, chunkLike, hasToolFragments, isRoleOnly, restamp, type Stamp } from './chunks.ts'
import { counterReady, estimateCompletionTokens, estimatePromptTokens, usageOf } from './usage.ts'

export type { ResumeStrategy } from './continuation.ts'
export { ContinuationDiverged } from './overlap.ts'

type Delta = ChatChunk['choices'][number]['delta']

/** What one continuation leg needs to cut what the client already has. */
interface LegFilters {
  text: OverlapCutter
  reasoning: OverlapCutter
  calls: RepeatedCallFilter
}

export class ResumableAnswer {
  readonly #original: ChatRequest
  readonly #holdToolCalls: boolean
  readonly #wantsUsage: boolean
  #stamp: Stamp | undefined
  /** 0 = the first leg; continuations count from 1. */
  #leg = 0
  #legModel = ''
  /** The model named by the current leg's latest chunk (what finish() stamps). */
  #lastModel = ''
  #filters: LegFilters | undefined
  readonly #holder = new ToolCallHolder()
  /**
   * First leg of a native passthrough (chunks carrying the upstream's own wire text): a held
   * tool call is held as the chunks themselves — every chunk from the call's start on, in order —
   * and released unchanged once the call is complete, so the client still gets the upstream's
   * bytes, only later. Undefined while nothing is held this way.
   */
  #nativeHeld: ChatChunk[] | undefined

  // What the client has received.
  #text = ''
  #reasoning = ''
  readonly #calls: ToolCall[] = []
  #finishSent = false
  /** Live tool calls: fragments went out and the call is not known complete (a cut would leave half a call). */
  #liveCallOpen = false
  /** n > 1: several choices interleave; resuming one of them is not supported. */
  #multiChoice: boolean
  #firstLegUsage: Usage | undefined
  /** A chunk with usage reached the client. */
  #usageSent = false

  constructor(original: ChatRequest, options: { holdToolCalls: boolean }) {
    this.#original = original
    this.#holdToolCalls = options.holdToolCalls
    this.#wantsUsage = original.stream_options?.include_usage === true
    this.#multiChoice = (original.n ?? 1) > 1
  }

  /** Chunks of the current leg in, what to send the client now out. */
  accept(chunk: ChatChunk): ChatChunk[] {
    return this.#acceptOne(chunk) ?? [chunk]
  }

  /**
   * A batch of the current leg in (one upstream read, issue 14): what to send the client now,
   * pushed onto `out` chunk by chunk (so what came before a ContinuationDiverged is there), with
   * no array per chunk that passes as it came.
   */
  acceptInto(batch: ChatChunk[], out: ChatChunk[]): void {
    for (const chunk of batch) {
      const rewritten = this.#acceptOne(chunk)
      if (rewritten === undefined) out.push(chunk)
      else for (const sent of rewritten) out.push(sent)
    }
  }

  /** What to send for one chunk; undefined: the chunk itself, as it came. */
  #acceptOne(chunk: ChatChunk): ChatChunk[] | undefined {
    this.#stamp ??= { id: chunk.id, created: chunk.created }
    if (chunk.model) this.#lastModel = chunk.model
    if (this.#leg === 0 && chunk.usage) this.#firstLegUsage = chunk.usage
    for (const choice of chunk.choices) if (choice.index !== 0) this.#multiChoice = true
    if (this.#multiChoice) return [this.#leg === 0 ? chunk : restamp(chunk, this.#stamp)]
    if (this.#leg === 0 && this.#holdToolCalls && (this.#nativeHeld || (chunk[NATIVE_WIRE] && hasToolFragments(chunk.choices[0]?.delta)))) {
      return this.#holdNative(chunk)
    }
    if (this.#leg === 0 && this.#passesUnchanged(chunk)) {
      this.#recordUnchanged(chunk)
      if (chunk.usage) this.#usageSent = true
      return undefined
    }
    return carryNote(chunk, this.#rewrite(chunk))
  }

  /** The leg ended cleanly: release what is held (text being decided, tool calls being assembled). */
  finish(): ChatChunk[] {
    if (!this.#stamp) return []
    if (this.#nativeHeld) {
      this.#holder.release().forEach((call) => this.#calls.push(call))
      return this.#releaseNative(this.#nativeHeld.length)
    }
    const source: ChatChunk = { id: this.#stamp.id, object: 'chat.completion.chunk', created: this.#stamp.created, model: this.#lastModel, choices: [] }
    const out = this.#emit(source, this.#flushText(), this.#holder.release(), undefined)
    // A client that asked for usage gets it even when the continuing upstream ignored stream_options.
    if (this.#leg > 0 && this.#wantsUsage && this.#finishSent && !this.#usageSent) {
      out.push(chunkLike(source, this.#stamp, source.model || this.#legModel, undefined, this.usage()!))
      this.#usageSent = true
    }
    return out
  }

  /** Can another candidate continue this answer now? */
  canResume(): boolean {
    return !this.#multiChoice && !this.#finishSent && !this.#liveCallOpen
  }

  /** The client already has its finish_reason: the answer is complete even if the leg's end was lost. */
  finished(): boolean {
    return this.#finishSent
  }

  /** The request that asks the next candidate to continue from what the client has. */
  continuation(strategy: ResumeStrategy): ChatRequest {
    return continuationRequest(this.#original, this.#text, strategy)
  }

  /** A new leg begins (after continuation() was sent to `model`): its chunks come next. */
  startLeg(strategy: ResumeStrategy, model: string): void {
    this.#leg++
    // A resumed answer's usage is counted with o200k_base: warm the counter while the leg streams.
    counterReady().catch(() => undefined)
    this.#legModel = model
    this.#lastModel = model
    this.#holder.discard() // a call cut half-way is written again by the continuation
    this.#nativeHeld = undefined // the client never saw those chunks
    this.#filters = {
      text: new OverlapCutter(this.#text, MIN_REPEAT_WORDS[strategy]),
      // Reasoning is never sent back: a restart repeats it from the start, rarely its last words.
      reasoning: new OverlapCutter(this.#reasoning, MIN_REPEAT_WORDS.prefill),
      calls: new RepeatedCallFilter([...this.#calls]),
    }
  }

  /** What the client received (see usage.ts: exact for one leg, an estimate once resumed). */
  usage(): Usage | undefined {
    if (this.#leg === 0) return this.#firstLegUsage
    const prompt = this.#firstLegUsage?.prompt_tokens ?? estimatePromptTokens(this.#original.messages)
    return usageOf(prompt, estimateCompletionTokens({ text: this.#text, reasoning: this.#reasoning, toolCalls: this.#calls }))
  }

  /**
   * Native first leg: the chunk joins what is held; a call completed by it (a later call starts)
   * releases every chunk before it, a finish releases everything, and once no call is open the
   * chunks go out as they came again.
   */
  #holdNative(chunk: ChatChunk): ChatChunk[] {
    const held = (this.#nativeHeld ??= [])
    held.push(chunk)
    const choice = chunk.choices[0]
    const completed = hasToolFragments(choice?.delta) ? this.#holder.add(choice.delta.tool_calls) : []
    if (choice?.finish_reason) completed.push(...this.#holder.release())
    this.#calls.push(...completed)
    if (!this.#holder.holding()) return this.#releaseNative(held.length)
    // The chunk that started a new call stays held with it; what came before is complete.
    return completed.length > 0 ? this.#releaseNative(held.length - 1) : []
  }

  /** The first `count` held native chunks go out unchanged, and count as delivered. */
  #releaseNative(count: number): ChatChunk[] {
    const held = this.#nativeHeld ?? []
    const out = held.splice(0, count)
    if (held.length === 0) this.#nativeHeld = undefined
    for (const chunk of out) {
      this.#recordUnchanged(chunk)
      if (chunk.usage) this.#usageSent = true
    }
    // Released whole: no call is left half-delivered.
    this.#liveCallOpen = false
    return out
  }

  /** The first leg's chunks go out as they came unless a tool call must be held or released. */
  #passesUnchanged(chunk: ChatChunk): boolean {
    const choice = chunk.choices[0]
    if (!choice) return true
    if (this.#finishSent && choice.finish_reason) return false
    if (hasToolFragments(choice.delta) && this.#holdToolCalls) return false
    return !(choice.finish_reason && this.#holder.holding())
  }

  #recordUnchanged(chunk: ChatChunk): void {
    const choice = chunk.choices[0]
    if (!choice) return
    const { delta } = choice
    if (typeof delta.content === 'string') this.#text += delta.content
    if (typeof delta.reasoning_content === 'string') this.#reasoning += delta.reasoning_content
    if (hasToolFragments(delta)) this.#liveCallOpen = true
    if (choice.finish_reason) {
      this.#finishSent = true
      this.#liveCallOpen = false
    }
  }

  #rewrite(chunk: ChatChunk): ChatChunk[] {
    const choice = chunk.choices[0]
    const delta: Delta = choice?.delta ?? {}
    const continuing = this.#leg > 0
    const { role, content, reasoning_content: reasoning, tool_calls: _fragments, ...rest } = delta
    let text = ''
    let thought = ''
    if (typeof reasoning === 'string') thought = continuing ? this.#filters!.reasoning.push(reasoning) : reasoning
    if (typeof content === 'string' && content.length > 0) {
      // Reasoning comes before the answer: whatever of it is still being decided goes first.
      if (continuing) thought += this.#filters!.reasoning.flush()
      text = continuing ? this.#filters!.text.push(content) : content
    }
    const complete: ToolCall[] = []
    if (hasToolFragments(delta)) {
      if (continuing) {
        const flushed = this.#flushText()
        text += flushed.text
        thought += flushed.thought
      }
      complete.push(...this.#holder.add(delta.tool_calls))
    }
    let finish = choice?.finish_reason ?? null
    if (finish) {
      const flushed = this.#flushText()
      text += flushed.text
      thought += flushed.thought
      complete.push(...this.#holder.release())
    }
    if (this.#finishSent) finish = null // exactly one finish_reason reaches the client
    const out = this.#emit(chunk, { text, thought }, complete, finish ?? undefined, continuing ? undefined : role, rest)
    return this.#withUsage(chunk, out)
  }

  #flushText(): { text: string; thought: string } {
    if (!this.#filters) return { text: '', thought: '' }
    const thought = this.#filters.reasoning.flush()
    return { text: this.#filters.text.flush(), thought }
  }

  /** Builds the client chunks for one step, in the order a client expects: text, calls, finish. */
  #emit(source: ChatChunk, parts: { text: string; thought: string }, complete: ToolCall[], finish: ChatChunk['choices'][number]['finish_reason'] | undefined, role?: Delta['role'], extra: Partial<Delta> = {}): ChatChunk[] {
    const stamp = this.#stamp!
    const model = source.model || this.#legModel
    const usage = this.#wantsUsage ? null : undefined
    const out: ChatChunk[] = []
    const delta: Delta = { ...extra }
    if (role) delta.role = role
    if (parts.thought) delta.reasoning_content = parts.thought
    if (parts.text) delta.content = parts.text
    // The first leg's own role chunk (role, empty content) still goes out: it starts the stream.
    if (Object.keys(delta).length > 0 && (role || !isRoleOnly(delta))) {
      if (role && delta.content === undefined && source.choices[0]?.delta.content === '') delta.content = ''
      out.push(chunkLike(source, stamp, model, { delta, finish: null }, usage))
    }
    this.#text += parts.text
    this.#reasoning += parts.thought
    for (const call of complete) {
      if (this.#filters?.calls.isRepeat(call)) continue
      out.push(chunkLike(source, stamp, model, { delta: { tool_calls: [wholeFragment(call, this.#calls.length)] }, finish: null }, usage))
      this.#calls.push(call)
    }
    if (finish) {
      // A continuation that only repeated the calls says `stop`; the client's answer is calls.
      const reason = finish === 'stop' && this.#calls.length > 0 ? 'tool_calls' : finish
      out.push(chunkLike(source, stamp, model, { delta: {}, finish: reason }, usage))
      this.#finishSent = true
    }
    return out
  }

  /** Usage on a chunk: the first leg's passes as it came; once resumed it is what the client received. */
  #withUsage(source: ChatChunk, out: ChatChunk[]): ChatChunk[] {
    if (!source.usage) return out
    if (this.#leg > 0 && !this.#wantsUsage) return out // asked for by the gateway, not by the client
    const usage = this.#leg === 0 ? source.usage : this.usage()!
    this.#usageSent = true
    const last = out.at(-1)
    if (last && last.choices.length > 0 && last.choices[0].finish_reason) {
      last.usage = usage
      return out
    }
    out.push(chunkLike(source, this.#stamp!, source.model || this.#legModel, undefined, usage))
    return out
  }
}
