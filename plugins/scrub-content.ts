// Scrubbing configured secrets out of answer content (issue 9 item 5): an upstream that echoes
// a key inside what the model "said" must not hand it to the client, the cache or the session.
// Exact matches of the configured values only — any other text, key-shaped or not, is the
// model's answer and is never rewritten. Pure: no I/O; plugins/secret-guard.ts applies it to
// the router's output.
//
// A stream may split a key across chunks, so each text channel (content, reasoning, refusal,
// an audio answer's transcript, one per tool call's arguments, per choice) holds back its longest tail that could be the
// start of a secret — but only a tail of MIN_HELD_TAIL_CHARS or more. A shorter one is sent,
// and remembered: when the next text completes the secret, the rest of it is masked. So at most
// MIN_HELD_TAIL_CHARS − 1 leading characters of a key can leave ("sk-", public in every key of
// that shape), and a chunk whose text merely ends in "s" is not held and rewritten — holding
// such tails rewrote a fifth of all chunks, which costs the unchanged upstream bytes
// (RAW_JSON, a native passthrough's NATIVE_WIRE). Held text is released with the next text of
// its channel, before another channel of the same choice speaks (reasoning never arrives after
// the answer it preceded), at the choice's finish chunk, or at the end of the stream.
//
// Beyond the text channels: an answer may carry strings no channel covers (annotations,
// citations, a provider's extra fields, a native passthrough's events the translation does not
// map), and they reach the client — as the upstream's own bytes (RAW_JSON, NATIVE_WIRE) or as
// the parsed object. So the text an answer will be written from is checked for a whole secret
// too, and if it holds one, every string of the answer is masked and its upstream bytes dropped.
import { NATIVE_WIRE, RAW_JSON, STREAM_NOTE, type ChatChunk, type ChatCompletion } from '../providers/contract.ts'
import { MASK } from './redact.ts'
import { handOut, readBatch, type BatchIterator } from './router/batch.ts'

/** Secrets shorter than this are not scrubbed from content: they would match ordinary words. */
export const MIN_SCRUBBED_SECRET_CHARS = 8
/** Streams: a tail that could start a secret is held back only from this length on (see the top). */
export const MIN_HELD_TAIL_CHARS = 4

type Delta = ChatChunk['choices'][number]['delta']
/** An audio answer's delta (OpenAI `modalities: ["text", "audio"]`): its transcript is text the client joins, like content. */
type AudioDelta = { audio?: { transcript?: unknown } }

const TEXT_FIELDS = ['content', 'reasoning_content', 'refusal'] as const

/** A stream's text channels of one choice, other than tool-call arguments: how to read one, and a delta with it replaced. */
interface TextChannel {
  name: string
  get(delta: Delta): unknown
  with(delta: Delta, text: string): Delta
}
const TEXT_CHANNELS: TextChannel[] = [
  ...TEXT_FIELDS.map((field): TextChannel => ({ name: field, get: (delta) => delta[field], with: (delta, text) => ({ ...delta, [field]: text }) })),
  {
    name: 'audio',
    get: (delta) => (delta as AudioDelta).audio?.transcript,
    with: (delta, text) => ({ ...delta, audio: { ...(delta as AudioDelta).audio, transcript: text } }) as Delta,
  },
]
const CHANNEL_BY_NAME = new Map(TEXT_CHANNELS.map((channel) => [channel.name, channel]))
const NO_CHANNELS: TextChannel[] = []
const CONTENT_CHANNEL = TEXT_CHANNELS.findIndex((channel) => channel.name === 'content')

/** No text channel but `content` can carry text in this delta, and no tool-call arguments either. */
function onlyContentCanSpeak(delta: Delta): boolean {
  return typeof delta.reasoning_content !== 'string' && typeof delta.refusal !== 'string' &&
    typeof (delta as AudioDelta).audio?.transcript !== 'string' && !delta.tool_calls
}

export interface ScrubResult {
  text: string
  /** Occurrences replaced. */
  count: number
}

export class SecretMatcher {
  readonly #secrets: string[]
  /**
   * 1 at the UTF-16 code unit some secret starts with. Looked up once per character of every
   * chunk's text: a typed array read where a Set of one-character strings cost a string and a
   * hash lookup per character (issue 14).
   */
  readonly #startsSecret = new Uint8Array(0x10000)

  constructor(secrets: string[]) {
    this.#secrets = [...new Set(secrets)].filter((s) => s.length >= MIN_SCRUBBED_SECRET_CHARS).sort((a, b) => b.length - a.length)
    for (const secret of this.#secrets) this.#startsSecret[secret.charCodeAt(0)] = 1
  }

  get empty(): boolean {
    return this.#secrets.length === 0
  }

  /** Every whole occurrence of a secret masked (longest secrets first). */
  scrub(text: string): ScrubResult {
    let count = 0
    let out = text
    for (const secret of this.#secrets) {
      if (!out.includes(secret)) continue
      const parts = out.split(secret)
      count += parts.length - 1
      out = parts.join(MASK)
    }
    return { text: out, count }
  }

  /**
   * `work` = text already sent (its first `sentLength` characters) + text not sent yet. Returns
   * the unsent part with every secret occurrence masked — one that began in the sent part has
   * only its unsent rest masked — and whether an occurrence reached into the sent part.
   */
  scrubAfter(work: string, sentLength: number): ScrubResult & { touchedSent: boolean } {
    let out = ''
    let from = sentLength
    let count = 0
    let touchedSent = false
    for (let i = 0; i < work.length; i++) {
      if (this.#startsSecret[work.charCodeAt(i)] === 0) continue
      const secret = this.#secrets.find((s) => work.startsWith(s, i))
      if (!secret || i + secret.length <= from) continue
      if (i < sentLength) touchedSent = true
      out += work.slice(from, Math.max(from, i)) + MASK
      from = i + secret.length
      count++
      i = from - 1
    }
    return { text: count ? out + work.slice(from) : work.slice(sentLength), count, touchedSent }
  }

  /** Whether `text` holds a whole secret. */
  contains(text: string): boolean {
    for (const secret of this.#secrets) if (text.includes(secret)) return true
    return false
  }

  /** Length of the longest tail of `text` that is a proper prefix of some secret (0: none). */
  heldTail(text: string): number {
    for (let start = Math.max(0, text.length - this.#longest() + 1); start < text.length; start++) {
      if (this.#startsSecret[text.charCodeAt(start)] === 0) continue
      const tail = text.slice(start)
      if (this.#secrets.some((s) => s.length > tail.length && s.startsWith(tail))) return tail.length
    }
    return 0
  }

  #longest(): number {
    return this.#secrets[0]?.length ?? 0
  }
}

/**
 * The text an answer will reach the client as: the upstream's own when it is forwarded as it
 * came, else its JSON. A `\u` escape in the upstream's text could spell a secret that the text
 * itself does not show: then its JSON, which writes such characters plainly.
 */
function outgoingText(value: ChatChunk | ChatCompletion): string {
  return forwardedText(value) ?? JSON.stringify(value)
}

/** The upstream's own text the answer goes out as, when it shows every character plainly (no `\u` escape). */
function forwardedText(value: ChatChunk | ChatCompletion): string | undefined {
  const raw = (value as { [RAW_JSON]?: string })[RAW_JSON] ?? value[NATIVE_WIRE]?.text
  return raw !== undefined && !raw.includes('\\u') ? raw : undefined
}

/** `value` with secrets masked in every string in it, without its upstream bytes (its router note kept). */
function scrubEverywhere<T extends ChatChunk | ChatCompletion>(matcher: SecretMatcher, value: T): T {
  const copy = JSON.parse(JSON.stringify(value, (_key, field: unknown) => (typeof field === 'string' ? matcher.scrub(field).text : field))) as T
  const note = (value as ChatChunk)[STREAM_NOTE]
  if (note !== undefined) (copy as ChatChunk)[STREAM_NOTE] = note
  return copy
}

/**
 * The answer as it will go out, masked everywhere when a secret sits outside the text channels;
 * the count is of the occurrences that would have gone out (in the upstream's bytes, a field
 * the translation drops may hold one that the object no longer does).
 */
function scrubOutside<T extends ChatChunk | ChatCompletion>(matcher: SecretMatcher, value: T): { value: T; count: number } {
  if (!outgoingHoldsSecret(matcher, value)) return { value, count: 0 }
  return { value: scrubEverywhere(matcher, value), count: matcher.scrub(outgoingText(value)).count }
}

/**
 * Whether a whole secret is in what the answer goes out as: its upstream text when it is
 * forwarded as it came, else every key, string and number its JSON would spell. A walk, not
 * JSON.stringify: a translated chunk (Ollama's, Anthropic's: no upstream text) was serialized
 * here for the check and again by the writer — 5 % of such a stream's CPU (issue 14).
 */
function outgoingHoldsSecret(matcher: SecretMatcher, value: ChatChunk | ChatCompletion): boolean {
  const raw = forwardedText(value)
  if (raw !== undefined) return matcher.contains(raw)
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const node = pending.pop()
    if (typeof node === 'string') {
      if (matcher.contains(node)) return true
    } else if (typeof node === 'number') {
      if (matcher.contains(String(node))) return true
    } else if (Array.isArray(node)) {
      for (const item of node) pending.push(item)
    } else if (typeof node === 'object' && node !== null) {
      // Own enumerable string keys, as JSON.stringify writes them (symbols such as RAW_JSON are not).
      for (const key of Object.keys(node)) {
        if (matcher.contains(key)) return true
        pending.push((node as Record<string, unknown>)[key])
      }
    }
  }
  return false
}

/** A JSON answer with secrets masked in every choice's text and tool-call arguments, and anywhere else; the same object when nothing matched. */
export function scrubCompletion(matcher: SecretMatcher, completion: ChatCompletion): { value: ChatCompletion; count: number } {
  const channels = scrubChannels(matcher, completion)
  const outside = scrubOutside(matcher, channels.value)
  return { value: outside.value, count: channels.count + outside.count }
}

function scrubChannels(matcher: SecretMatcher, completion: ChatCompletion): { value: ChatCompletion; count: number } {
  let total = 0
  const choices = completion.choices.map((choice) => {
    const message = { ...choice.message }
    let changed = false
    for (const field of TEXT_FIELDS) {
      const value = message[field]
      if (typeof value !== 'string') continue
      const { text, count } = matcher.scrub(value)
      if (count) { (message as Record<string, unknown>)[field] = text; total += count; changed = true }
    }
    if (message.tool_calls) {
      message.tool_calls = message.tool_calls.map((call) => {
        const { text, count } = matcher.scrub(call.function.arguments)
        if (!count) return call
        total += count
        changed = true
        return { ...call, function: { ...call.function, arguments: text } }
      })
    }
    return changed ? { ...choice, message } : choice
  })
  if (total === 0) return { value: completion, count: 0 }
  const value = { ...completion, choices }
  delete value[NATIVE_WIRE]
  delete (value as { [RAW_JSON]?: string })[RAW_JSON]
  return { value, count: total }
}

/** Streams: the per-channel hold-back described at the top. One instance per stream. */
export class StreamScrubber {
  readonly #matcher: SecretMatcher
  /** `${choice}:${field}` or `${choice}:tool:${index}` → text held back. */
  readonly #held = new Map<string, string>()
  /** Same keys → the last characters sent on that channel (a possible start of a secret). */
  readonly #sentTail = new Map<string, string>()
  readonly #keysByChoice = new Map<number, string[]>()
  #last: ChatChunk | undefined
  scrubbed = 0

  constructor(matcher: SecretMatcher) {
    this.#matcher = matcher
  }

  /** What to send for this chunk: the chunk itself when nothing was held or masked. */
  accept(chunk: ChatChunk): ChatChunk {
    this.#last = chunk
    let copy: ChatChunk | undefined
    const { choices } = chunk
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i]
      const delta = this.#channels(choice.index, choice.delta, choice.finish_reason !== null && choice.finish_reason !== undefined)
      if (delta === choice.delta) continue
      copy ??= { ...chunk, choices: [...choices] }
      copy.choices[i] = { ...choice, delta }
    }
    if (copy) {
      delete copy[RAW_JSON]
      delete copy[NATIVE_WIRE]
    }
    // A whole secret outside the channels (a split one there is the hold-back's job).
    const outside = scrubOutside(this.#matcher, copy ?? chunk)
    this.scrubbed += outside.count
    return outside.value
  }

  /** At the end of a clean stream: a chunk releasing whatever is still held, if anything is. */
  finish(): ChatChunk | undefined {
    if (this.#held.size === 0 || !this.#last) return undefined
    const byChoice = new Map<number, Delta>()
    for (const [key, text] of this.#held) {
      const [choice, field, toolIndex] = key.split(':')
      let delta = byChoice.get(Number(choice)) ?? {}
      if (field === 'tool') (delta.tool_calls ??= []).push({ index: Number(toolIndex), function: { arguments: text } })
      else delta = CHANNEL_BY_NAME.get(field)!.with(delta, text)
      byChoice.set(Number(choice), delta)
    }
    this.#held.clear()
    const { id, created, model } = this.#last
    return { id, object: 'chat.completion.chunk', created, model, choices: [...byChoice].map(([index, delta]) => ({ index, delta, finish_reason: null })) }
  }

  /** The delta with its text channels scrubbed and held back; the same object when unchanged. */
  #channels(choice: number, delta: Delta, finishing: boolean): Delta {
    // The usual chunk: nothing held on any channel, and text (if any) only in `content`. The
    // general steps below then release nothing and pass only that one channel, so this does
    // just that, without walking every channel of every chunk (issue 14; the output is pinned
    // by test/hardening/scrub-characterization.test.ts).
    if (this.#held.size === 0 && onlyContentCanSpeak(delta)) {
      const content = delta.content
      if (typeof content !== 'string') return delta
      const text = this.#pass(this.#channelKeys(choice)[CONTENT_CHANNEL], content, finishing)
      return text === content ? delta : TEXT_CHANNELS[CONTENT_CHANNEL].with(delta, text)
    }
    let out: Delta | undefined
    // A channel that speaks now releases what the others hold, so their order is kept.
    // Only worked out when something is held: most chunks of most streams hold nothing.
    const speaking = this.#held.size === 0 ? NO_CHANNELS : TEXT_CHANNELS.filter((channel) => {
      const value = channel.get(delta)
      return typeof value === 'string' && value !== ''
    })
    const keys = this.#channelKeys(choice)
    for (let c = 0; c < TEXT_CHANNELS.length; c++) {
      const channel = TEXT_CHANNELS[c]
      const value = channel.get(delta)
      const key = keys[c]
      const released = this.#held.has(key) && (finishing || (speaking.length > 0 && !speaking.includes(channel)))
      if (typeof value !== 'string' && !released) continue
      const text = this.#pass(key, typeof value === 'string' ? value : '', finishing || released)
      if (text === value) continue
      out = channel.with(out ?? delta, text)
    }
    const calls = delta.tool_calls
    let newCalls: ChatChunk['choices'][number]['delta']['tool_calls']
    if (calls) {
      calls.forEach((call, i) => {
        const args = call.function?.arguments
        if (typeof args !== 'string') return
        const text = this.#pass(`${choice}:tool:${call.index}`, args, false)
        if (text === args) return
        newCalls ??= [...calls]
        newCalls[i] = { ...call, function: { ...call.function, arguments: text } }
      })
    }
    if (finishing) {
      // The choice ends here: release held tool-call arguments as fragments of this chunk.
      for (const [key, text] of this.#held) {
        const [c, kind, toolIndex] = key.split(':')
        if (Number(c) !== choice || kind !== 'tool') continue
        this.#held.delete(key)
        ;(newCalls ??= [...(calls ?? [])]).push({ index: Number(toolIndex), function: { arguments: text } })
      }
    }
    if (newCalls) (out ??= { ...delta }).tool_calls = newCalls
    return out ?? delta
  }

  /** `${choice}:${channel}` for each of TEXT_CHANNELS: made once per choice index, not per chunk. */
  #channelKeys(choice: number): string[] {
    let keys = this.#keysByChoice.get(choice)
    if (keys === undefined) {
      keys = TEXT_CHANNELS.map((channel) => `${choice}:${channel.name}`)
      this.#keysByChoice.set(choice, keys)
    }
    return keys
  }

  /** The text to send now on one channel: held + new, masked, minus a new tail to hold. */
  #pass(key: string, fragment: string, release: boolean): string {
    const held = this.#held.get(key) ?? ''
    const sent = this.#sentTail.get(key) ?? ''
    // The usual chunk: nothing held, nothing sent that could start a secret, no secret in it.
    // The general steps below give the same for it (no mask, nothing touched before it), without
    // the concatenations and the scan of every character (issue 14: with a key configured,
    // scrubbing was a third of a stream's cost).
    if (held === '' && sent === '' && !this.#matcher.contains(fragment)) {
      const hold = this.#holdLength(fragment, fragment, release)
      const out = this.#keep(key, fragment, hold, '')
      return hold === 0 ? fragment : out
    }
    const { text, count, touchedSent } = this.#matcher.scrubAfter(sent + held + fragment, sent.length)
    this.scrubbed += count
    // The tail that could start a secret, counting what was just sent before it.
    const context = touchedSent ? text : sent + text
    const hold = this.#holdLength(context, text, release)
    const out = this.#keep(key, text, hold, touchedSent ? '' : sent)
    // Unchanged: hand back the very same string so that the caller keeps the original chunk.
    return count === 0 && hold === 0 && held === '' ? fragment : out
  }

  /** How many characters at the end of `text` to hold back: its tail that could start a secret, when that is long enough. */
  #holdLength(context: string, text: string, release: boolean): number {
    if (release) return 0
    const tail = this.#matcher.heldTail(context)
    return tail >= MIN_HELD_TAIL_CHARS ? Math.min(text.length, tail) : 0
  }

  /**
   * Holds the last `hold` characters of `text` and remembers what was sent: of its last
   * MIN_HELD_TAIL_CHARS − 1 characters (after `before`, sent earlier) only the longest tail that
   * could start a secret. Nothing else of them can: a secret that began earlier would have
   * left more than that before it was held, and a character no secret starts with starts none.
   * Remembering nothing when no tail could (the usual case) keeps the next chunk on the fast path.
   */
  #keep(key: string, text: string, hold: number, before: string): string {
    if (hold) this.#held.set(key, text.slice(text.length - hold))
    else if (this.#held.size > 0) this.#held.delete(key)
    const out = hold ? text.slice(0, text.length - hold) : text
    const lastSent = (out.length >= MIN_HELD_TAIL_CHARS - 1 ? out : before + out).slice(-(MIN_HELD_TAIL_CHARS - 1))
    const start = this.#matcher.heldTail(lastSent)
    if (start > 0) this.#sentTail.set(key, lastSent.slice(lastSent.length - start))
    else if (this.#sentTail.size > 0) this.#sentTail.delete(key)
    return out
  }
}

/**
 * Wraps a stream of chunks: secrets masked, split ones too; `onScrub` hears each masked
 * occurrence count. It speaks the batch protocol (plugins/router/batch.ts): a batch whose chunks
 * all pass as they came goes on as the same array, its upstream bytes (RAW_FRAMES) with it. An
 * async generator here cost every chunk of every stream a step, and the bytes, whenever a key
 * was configured — that is, in every deployment with a paid provider (issue 14).
 */
export function scrubStream(matcher: SecretMatcher, chunks: AsyncIterable<ChatChunk>, onScrub: (count: number) => void): AsyncGenerator<ChatChunk> & BatchIterator<ChatChunk> {
  const scrubber = new StreamScrubber(matcher)
  const source = chunks[Symbol.asyncIterator]()
  let reported = 0
  /** The source ended (or was closed) and what the scrubber held went out. */
  let over = false
  const report = () => {
    if (scrubber.scrubbed > reported) onScrub(scrubber.scrubbed - reported)
    reported = scrubber.scrubbed
  }
  const scrubbed = (batch: ChatChunk[]): ChatChunk[] => {
    let out: ChatChunk[] | undefined
    for (let i = 0; i < batch.length; i++) {
      const chunk = scrubber.accept(batch[i])
      if (out === undefined && chunk !== batch[i]) out = batch.slice(0, i)
      out?.push(chunk)
    }
    report()
    return out ?? batch
  }
  const close = async () => {
    if (over) return
    over = true
    await source.return?.()
  }
  const pull = async (): Promise<IteratorResult<ChatChunk[], undefined>> => {
    if (over) return { done: true, value: undefined }
    const next = await readBatch(source)
    if (!next.done) {
      try {
        return { done: false, value: scrubbed(next.value) }
      } catch (err) {
        // A chunk the scrubber cannot read (a malformed upstream's): the source is closed, as a
        // loop over it would close it, so its upstream request is not left open.
        await close()
        throw err
      }
    }
    over = true
    const rest = scrubber.finish()
    report()
    return rest ? { done: false, value: [rest] } : { done: true, value: undefined }
  }
  const stream = handOut(pull, close)
  const throwInto = async (err: unknown): Promise<never> => {
    await stream.return!()
    throw err
  }
  return Object.assign(stream, { throw: throwInto }) as unknown as AsyncGenerator<ChatChunk> & BatchIterator<ChatChunk>
}
