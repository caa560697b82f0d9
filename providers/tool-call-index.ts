// Tool-call indexes in streamed deltas (issue 9 item 7), one helper for every accumulator.
// A streamed `index: 4294967294` once blocked the event loop for 103 s (a sparse array
// filled, then filtered) and `index: "__proto__"` set Array.prototype.id for the whole
// process. Indexes are small non-negative integers, checked where chunks enter the gateway
// (ToolCallIndexer, in the OpenAI-compatible reader); every accumulator keys calls by index
// in a Map (ToolCallAccumulator), so even an unchecked index cannot stall or pollute.
import type { ChunkToolCall, ToolCall } from './contract.ts'

/** Far above any real answer (parallel tool calls number a handful); below any attack. */
export const MAX_TOOL_CALL_INDEX = 127

export const isToolCallIndex = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_TOOL_CALL_INDEX

/** Why a chunk's tool-call (or choice) index is refused; the reader turns it into a malformed stream. */
export class BadIndexError extends Error {
  constructor(what: string, value: unknown) {
    super(`${what} index ${JSON.stringify(value)?.slice(0, 40) ?? String(value)} is not an integer 0..${MAX_TOOL_CALL_INDEX}`)
    this.name = 'BadIndexError'
  }
}

/**
 * Assigns each fragment of one choice's stream its index. A fragment without `index` (Gemini's
 * OpenAI endpoint sends none) belongs to the current call — or starts the next one when it
 * brings an `id` the current call does not have; the first call is 0. A present index must
 * be an integer 0..MAX_TOOL_CALL_INDEX.
 */
export class ToolCallIndexer {
  #current: number | undefined
  #currentId: string | undefined
  #next = 0

  /** The fragment's index (and sets it on the fragment); throws BadIndexError. */
  resolve(fragment: { index?: unknown; id?: unknown }): number {
    let index: number
    if (fragment.index === undefined || fragment.index === null) {
      const startsAnother = typeof fragment.id === 'string' && fragment.id !== '' && this.#currentId !== undefined && fragment.id !== this.#currentId
      index = this.#current === undefined || startsAnother ? this.#next : this.#current
      if (index > MAX_TOOL_CALL_INDEX) throw new BadIndexError('tool-call', index)
    } else if (isToolCallIndex(fragment.index)) {
      index = fragment.index
    } else {
      throw new BadIndexError('tool-call', fragment.index)
    }
    if (index !== this.#current) this.#currentId = undefined
    this.#current = index
    if (typeof fragment.id === 'string' && fragment.id !== '') this.#currentId = fragment.id
    this.#next = Math.max(this.#next, index + 1)
    fragment.index = index
    return index
  }
}

/** Rebuilds whole tool calls from fragments, keyed by index in a Map; calls() in index order. */
export class ToolCallAccumulator {
  readonly #calls = new Map<number, ToolCall>()

  add(fragment: ChunkToolCall): void {
    // A Map key is only a key: a string or a huge number cannot reach a prototype or grow an array.
    const index = fragment.index
    let call = this.#calls.get(index)
    if (!call) {
      call = { id: '', type: 'function', function: { name: '', arguments: '' } }
      this.#calls.set(index, call)
    }
    if (fragment.id) call.id = fragment.id
    // Names come whole (some upstreams repeat them in every fragment); arguments come in pieces.
    if (fragment.function?.name) call.function.name = fragment.function.name
    if (fragment.function?.arguments) call.function.arguments += fragment.function.arguments
  }

  get size(): number {
    return this.#calls.size
  }

  calls(): ToolCall[] {
    return [...this.#calls.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, call]) => call)
  }
}
