// OpenAI-dialect answers → internal chunks/completions. Upstream dialects differ in small
// ways we normalise here: `reasoning` (Ollama, OpenRouter) → `reasoning_content`,
// `choices: null` (vLLM) → `[]`, Groq's `x_groq.usage` → `usage`, `error` events → failures.
import { randomUUID } from 'node:crypto'
import { RAW_FRAMES, RAW_JSON, type BatchIterator, type ChatChunk, type ChatCompletion, type ChunkBatch } from './contract.ts'
import { READ_BYTES, sseEventBatches, type BodyStream, type EventBatch } from './http/index.ts'
import { UpstreamError } from './upstream-error.ts'
import { parseUpstreamJson } from './json-depth.ts'
import { normalizeUsage, usageIsSane } from './usage.ts'
import { BadIndexError, ToolCallIndexer, isToolCallIndex } from './tool-call-index.ts'

type Loose = Record<string, any>

/** Returns true when it changed something. */
function moveReasoning(target: Loose | undefined): boolean {
  if (!target || target.reasoning === undefined) return false
  if (target.reasoning_content === undefined && typeof target.reasoning === 'string') target.reasoning_content = target.reasoning
  delete target.reasoning
  return true
}

/** Normalises in place; returns true when the chunk differs from what the upstream sent. */
export function normalizeChunk(chunk: Loose): boolean {
  let changed = false
  if (!Array.isArray(chunk.choices)) {
    chunk.choices = []
    changed = true
  }
  for (const choice of chunk.choices) changed = moveReasoning(choice.delta) || changed
  if (!chunk.usage && chunk.x_groq?.usage) {
    chunk.usage = chunk.x_groq.usage
    changed = true
  }
  changed = saneUsage(chunk) || changed
  return changed
}

/** Usage with bad counts is dropped or repaired here, at the boundary (issue 9 item 8). */
function saneUsage(target: Loose): boolean {
  if (target.usage === undefined || target.usage === null || usageIsSane(target.usage)) return false
  const usage = normalizeUsage(target.usage)
  if (usage) target.usage = usage
  else delete target.usage
  return true
}

/**
 * What OpenAI's schema requires of a choice and that OpenAI-compatible upstreams (GPT4All,
 * vLLM, proxies) leave out: `logprobs` and `message.refusal`, null when absent (issue 9 item 18).
 */
function conformChoice(choice: Loose): void {
  if (choice.logprobs === undefined) choice.logprobs = null
  if (typeof choice.message === 'object' && choice.message !== null && choice.message.refusal === undefined) choice.message.refusal = null
}

/**
 * The answer's own id and time, as OpenAI's schema types them (a string, whole seconds): an
 * upstream's `"id": 12345` made the Messages encoder throw — a 500 for a valid answer. Repaired
 * here, at the boundary, as usage is: what every dialect's encoder then reads is well-typed.
 */
function conformEnvelope(body: Loose): void {
  if (typeof body.id !== 'string' || body.id === '') body.id = `chatcmpl-${randomUUID().replaceAll('-', '')}`
  if (typeof body.created !== 'number' || !Number.isFinite(body.created)) body.created = Math.floor(Date.now() / 1000)
}

export function normalizeCompletion(body: Loose): ChatCompletion {
  if (body?.error) throw streamError(body.error)
  if (!body || !Array.isArray(body.choices)) {
    throw new UpstreamError('malformed', 'the upstream answer has no choices array')
  }
  for (const choice of body.choices) {
    if (typeof choice !== 'object' || choice === null) throw new UpstreamError('malformed', 'malformed answer from upstream: a choice is not an object')
    if (choice.index === undefined) choice.index = 0
    else if (!isToolCallIndex(choice.index)) throw new UpstreamError('malformed', `malformed answer from upstream: ${new BadIndexError('choice', choice.index).message}`)
    moveReasoning(choice.message)
    conformChoice(choice)
  }
  saneUsage(body)
  conformEnvelope(body)
  // The schema says string; some upstreams (and OpenAI itself at times) send null: absent is the same.
  if (body.system_fingerprint === null) delete body.system_fingerprint
  return body as ChatCompletion
}

/**
 * Checks the choice and tool-call indexes of one chunk (issue 9 item 7): small non-negative
 * integers; a tool-call fragment without one (Gemini) gets the current call's. Returns true
 * when it filled an index in. A bad index is a malformed stream: the attempt fails, no
 * accumulator ever sees it.
 */
export function indexChunk(chunk: Loose, indexers: Map<number, ToolCallIndexer>): boolean {
  let changed = false
  for (const choice of chunk.choices as Loose[]) {
    if (choice.index === undefined) {
      choice.index = 0
      changed = true
    } else if (!isToolCallIndex(choice.index)) {
      throw new BadIndexError('choice', choice.index)
    }
    const fragments = choice.delta?.tool_calls
    if (fragments === undefined || fragments === null) continue
    if (!Array.isArray(fragments)) throw new BadIndexError('tool-call list', fragments)
    let indexer = indexers.get(choice.index)
    if (!indexer) indexers.set(choice.index, (indexer = new ToolCallIndexer()))
    for (const fragment of fragments as Loose[]) {
      if (typeof fragment !== 'object' || fragment === null) throw new BadIndexError('tool-call', fragment)
      const given = fragment.index
      indexer.resolve(fragment)
      if (given !== fragment.index) changed = true
    }
  }
  return changed
}

function streamError(error: unknown): UpstreamError {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as Loose
  const status = typeof e.code === 'number' ? e.code : undefined
  const kind = status === 429 || e.type === 'rate_limit_error' ? 'rate_limited' : 'stream_error'
  // Only a string or number is a code: anything else (an object, a number given to the redactor) is dropped, not thrown on.
  const code = typeof e.type === 'string' ? e.type : typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined
  return new UpstreamError(kind, `error inside the stream: ${String(e.message ?? JSON.stringify(e)).slice(0, 300)}`, { status, upstreamCode: code?.slice(0, 300) })
}

/** Where a learned chunk's text varies: its one choice's delta text. */
type TextSlot = 'content' | 'reasoning_content'
const QUOTE = 0x22
const BACKSLASH = 0x5c
/**
 * A learned shape that met no chunk of its shape stops the learning until one does: some
 * upstreams vary more than the text in every chunk (OpenAI's `obfuscation`), and each learning
 * costs a walk of the chunk, scans of its text and three copies.
 */
const MAX_LEARNS_WITHOUT_HIT = 1

/** Whether `text[from, to)` is a JSON string's body as it is: no quote, backslash or control character. */
function isPlainText(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i)
    if (code === QUOTE || code === BACKSLASH || code < 0x20) return false
  }
  return true
}

const isFlatObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value)

/** Only strings, numbers, booleans and null, except under `nested` (a shallow copy of it shares nothing else). */
function flatBesides(target: Loose, nested?: string): boolean {
  for (const key in target) {
    const value = target[key]
    if (key !== nested && typeof value === 'object' && value !== null) return false
  }
  return true
}

/** The slot of a chunk that can be learned: one choice, every value flat but the choice and its delta. */
function slotOf(parsed: unknown): TextSlot | undefined {
  if (!isFlatObject(parsed) || !Array.isArray(parsed.choices) || parsed.choices.length !== 1 || !flatBesides(parsed, 'choices')) return undefined
  const choice = parsed.choices[0]
  if (!isFlatObject(choice) || !isFlatObject(choice.delta) || !flatBesides(choice, 'delta') || !flatBesides(choice.delta)) return undefined
  // A role comes with a stream's first chunk only: no later chunk has its shape.
  if (choice.delta.role !== undefined) return undefined
  if (typeof choice.delta.content === 'string') return 'content'
  if (typeof choice.delta.reasoning_content === 'string') return 'reasoning_content'
  return undefined
}

/**
 * Where the slot's text sits in `data`, the JSON text that parsed to a chunk whose slot holds
 * `text`: [start, end), or undefined when that cannot be known from the text alone.
 *
 * Without a backslash in `data`, every key is spelled as it is and every string ends at its
 * next quote. A key named like the slot is then `"<slot>"` in the text, and a string value
 * of that name is too: when `"<slot>"` occurs once, it is the one key of that name in the whole
 * document — so the delta's own key, as the delta holds a string under it (a duplicate key, an
 * overridden duplicate `choices`, the same key elsewhere: each makes a second occurrence).
 * Its value follows as `:"…"` (anything else, say a space before the colon, is not learned).
 */
function slotIn(data: string, slot: TextSlot, text: string): [start: number, end: number] | undefined {
  if (data.includes('\\')) return undefined
  const key = `"${slot}"`
  const at = data.indexOf(key)
  if (at === -1 || data.indexOf(key, at + key.length) !== -1) return undefined
  const start = at + key.length + 2
  if (data.charCodeAt(start - 2) !== 0x3a || data.charCodeAt(start - 1) !== QUOTE) return undefined // `:"`
  const end = data.indexOf('"', start)
  // Always so, by the argument above; checked, as the chunks built from it rest on it.
  if (end === -1 || data.slice(start, end) !== text) return undefined
  return [start, end]
}

/**
 * JSON.parse for the `data` of one stream's events, cheaper from the second chunk of a shape on
 * (issue 14: parsing was the largest cost per chunk of the stream path). A stream's chunks mostly
 * differ only in their text: a chunk whose data is a learned chunk's data with another plain
 * string (no quote, backslash or control character) in the place of its delta's text is built
 * from the learned chunk — the very object JSON.parse gives for it, as the rest of the text is
 * the same. Anything else is parsed (and its failures are JSON.parse's own).
 *
 * A chunk is learned when where its delta's text sits is known from its text alone (slotIn)
 * and every value in it but its one choice and that choice's delta is a string, number,
 * boolean or null (so a copy of three objects shares nothing with another chunk). The text
 * around the slot is the learned chunk's own: however it spells its numbers or orders its
 * keys, a chunk with the same text around another plain string parses to the same values.
 */
export class StreamChunkParser {
  #template: Loose | undefined
  #slot: TextSlot = 'content'
  #prefix = ''
  #suffix = ''
  #learnsWithoutHit = 0

  parse(data: string): Loose {
    const built = this.#fromTemplate(data)
    if (built !== undefined) return built
    const parsed = parseUpstreamJson(data)
    if (this.#learnsWithoutHit < MAX_LEARNS_WITHOUT_HIT) this.#learn(parsed, data)
    return parsed
  }

  #fromTemplate(data: string): Loose | undefined {
    const template = this.#template
    if (template === undefined) return undefined
    const start = this.#prefix.length
    const end = data.length - this.#suffix.length
    // Compared as slices: string equality is a memory compare, startsWith/endsWith go char by char (ten times slower here).
    if (end < start || data.slice(0, start) !== this.#prefix || data.slice(end) !== this.#suffix || !isPlainText(data, start, end)) return undefined
    this.#learnsWithoutHit = 0
    const choice = template.choices[0]
    const delta = { ...choice.delta }
    delta[this.#slot] = data.slice(start, end)
    return { ...template, choices: [{ ...choice, delta }] }
  }

  #learn(parsed: unknown, data: string): void {
    const slot = slotOf(parsed)
    if (slot === undefined) return
    const chunk = parsed as Loose
    const choice = chunk.choices[0]
    const at = slotIn(data, slot, choice.delta[slot])
    // Not counted: a chunk that cannot be learned (a `\n` in its text) costs a walk and a scan; the next one may be.
    if (at === undefined) return
    this.#learnsWithoutHit++
    // A copy: the chunk handed out is changed downstream (normalised, marked with its RAW_JSON).
    this.#template = { ...chunk, choices: [{ ...choice, delta: { ...choice.delta } }] }
    this.#slot = slot
    this.#prefix = data.slice(0, at[0])
    this.#suffix = data.slice(at[1])
  }
}

/** `data: [DONE]\n\n` */
const DONE_FRAME_BYTES = 14

/**
 * Chunks of an OpenAI-style SSE stream. `[DONE]` ends it; an `error` payload is a failure,
 * never content. A stream that stops with neither `[DONE]` nor a finish_reason was cut:
 * that is a failure too, so a truncated answer is never passed off as complete.
 */
export function openAIChunks(body: BodyStream, signal: AbortSignal): AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk> {
  // An iterator object over the events of each network read, not an async generator: the events
  // of one read are handed out without a generator's queue and resumption per chunk (issue 14),
  // one by one (`next()`) or all at once (`nextBatch()`, the batch protocol of plugins/router/batch.ts).
  // `[DONE]`, a failure and an early `return()` all close the framing (which frees the socket).
  let finished = false
  let over = false
  /** A failure met after some chunks of the same read: they are handed out first, it is thrown next. */
  let failure: unknown
  const indexers = new Map<number, ToolCallIndexer>()
  const parser = new StreamChunkParser()
  const batches = sseEventBatches(body, signal)
  let batch: EventBatch = []
  let at = 0
  const toChunk = (event: EventBatch[number]): ChatChunk | undefined => {
    const data = event.data
    if (data === '') return undefined
    let parsed: Loose
    try {
      parsed = parser.parse(data)
    } catch (err) {
      if (err instanceof UpstreamError) throw err
      throw new UpstreamError('malformed', `malformed SSE data from upstream: ${data.slice(0, 80)}`)
    }
    if (parsed.error || event.event === 'error') throw streamError(parsed.error ?? parsed)
    let changed = normalizeChunk(parsed)
    try {
      changed = indexChunk(parsed, indexers) || changed
    } catch (err) {
      if (!(err instanceof BadIndexError)) throw err
      throw new UpstreamError('malformed', `malformed chunk from upstream: ${err.message}`)
    }
    // Unchanged chunks keep their upstream text, so the writer need not serialize them again —
    // unless it spans several `data:` lines: re-sent as one line, its newline would end the event.
    if (!changed && !data.includes('\n')) (parsed as ChatChunk)[RAW_JSON] = data
    const chunk = parsed as ChatChunk
    if (!finished) {
      for (const choice of chunk.choices) if (choice.finish_reason) finished = true
    }
    return chunk
  }
  const end = async (): Promise<void> => {
    over = true
    await batches.return(undefined)
  }
  /**
   * The upstream bytes of events `from`… of the current read, up to `trim` bytes before its
   * end, on `out` (RAW_FRAMES): only when the read is nothing but these events as they came.
   */
  const withReadBytes = (out: ChunkBatch, from: number, trim: number): ChunkBatch => {
    const bytes = batch[READ_BYTES]
    if (bytes === undefined) return out
    let start = 0
    for (let i = 0; i < from; i++) start += 8 + Buffer.byteLength(batch[i].data) // `data: ` … `\n\n`
    out[RAW_FRAMES] = bytes.subarray(start, bytes.length - trim)
    return out
  }
  /** Up to `max` chunks, in order, reading the network only when none is left. */
  const take = async (max: number): Promise<IteratorResult<ChatChunk[], undefined>> => {
    if (failure !== undefined) {
      const err = failure
      failure = undefined
      throw err
    }
    const out: ChunkBatch = []
    /** The first event of the current read handed out by this call, and whether all since came out untouched. */
    let from = at
    let untouched = max === Infinity
    try {
      while (!over) {
        while (at < batch.length) {
          const event = batch[at++]
          if (event.data === '[DONE]') {
            await end()
            if (out.length === 0) return { done: true, value: undefined }
            return { done: false, value: untouched && at === batch.length ? withReadBytes(out, from, DONE_FRAME_BYTES) : out }
          }
          const chunk = toChunk(event)
          if (chunk === undefined || chunk[RAW_JSON] === undefined) untouched = false
          if (chunk && out.push(chunk) === max) return { done: false, value: out }
        }
        if (out.length > 0) return { done: false, value: untouched ? withReadBytes(out, from, 0) : out }
        const next = await batches.next()
        if (next.done) {
          over = true
          if (!finished) throw new UpstreamError('malformed', 'the upstream stream ended before [DONE]: the answer was cut')
          break
        }
        batch = next.value
        at = 0
        from = 0
        untouched = max === Infinity
      }
    } catch (err) {
      if (!over) await end()
      if (out.length === 0) throw err
      failure = err
      return { done: false, value: out }
    }
    return { done: true, value: undefined }
  }
  const it: AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk> = {
    async next(): Promise<IteratorResult<ChatChunk>> {
      const one = await take(1)
      return one.done ? one : { done: false, value: one.value[0] }
    },
    nextBatch: () => take(Infinity),
    async return(): Promise<IteratorResult<ChatChunk>> {
      failure = undefined
      if (!over) await end()
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]: () => it,
  }
  return it
}
