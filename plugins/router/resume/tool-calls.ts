// Tool calls of a resumable stream. Argument fragments are held until the call is complete
// (the next call starts, or the leg finishes) and then released whole, so a cut inside a
// call leaves the client holding nothing of it, and the continuation can write it again.
// A continuation that writes again calls the client already has is recognised and dropped.
import type { ChunkToolCall, ToolCall } from '../../../providers/contract.ts'

/** A call being assembled from one leg's fragments (keyed by the upstream's index). */
interface OpenCall {
  upstreamIndex: number
  id: string
  name: string
  arguments: string
}

export class ToolCallHolder {
  readonly #open = new Map<number, OpenCall>()

  /** Adds fragments; returns the calls they complete (a later call started), in order. */
  add(fragments: ChunkToolCall[]): ToolCall[] {
    const done: ToolCall[] = []
    for (const fragment of fragments) {
      if (!this.#open.has(fragment.index)) {
        // A new call starts: every open call before it is complete.
        for (const call of this.#sorted()) if (call.upstreamIndex < fragment.index) done.push(this.#close(call))
        this.#open.set(fragment.index, { upstreamIndex: fragment.index, id: '', name: '', arguments: '' })
      }
      const call = this.#open.get(fragment.index)!
      if (fragment.id) call.id = fragment.id
      // Names come whole (some upstreams repeat them in every fragment); arguments in pieces.
      if (fragment.function?.name) call.name = fragment.function.name
      if (fragment.function?.arguments) call.arguments += fragment.function.arguments
    }
    return done
  }

  /** The leg finished cleanly: every open call is complete. */
  release(): ToolCall[] {
    return this.#sorted().map((call) => this.#close(call))
  }

  /** The leg was cut: half-written calls are thrown away (the client never saw them). */
  discard(): void {
    this.#open.clear()
  }

  /** Is any call open (fragments received, not released)? */
  holding(): boolean {
    return this.#open.size > 0
  }

  #sorted(): OpenCall[] {
    return [...this.#open.values()].sort((a, b) => a.upstreamIndex - b.upstreamIndex)
  }

  #close(call: OpenCall): ToolCall {
    this.#open.delete(call.upstreamIndex)
    return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }
  }
}

/** Arguments compared as JSON when they parse (a model may space them differently), else as text. */
function sameArguments(a: string, b: string): boolean {
  if (a === b) return true
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b))
  } catch {
    return false
  }
}

export const sameCall = (a: ToolCall, b: ToolCall) => a.function.name === b.function.name && sameArguments(a.function.arguments, b.function.arguments)

/**
 * A continuation often writes again the calls the client already has, in order. Those are
 * dropped; the first call that differs, and every call after it, is new.
 */
export class RepeatedCallFilter {
  readonly #already: ToolCall[]
  #next = 0

  constructor(already: ToolCall[]) {
    this.#already = already
  }

  /** True when `call` repeats the next call the client already has. */
  isRepeat(call: ToolCall): boolean {
    if (this.#next < this.#already.length && sameCall(call, this.#already[this.#next])) {
      this.#next++
      return true
    }
    this.#next = Infinity
    return false
  }
}

/** A whole call as one stream fragment, at the client's index. */
export function wholeFragment(call: ToolCall, index: number): ChunkToolCall {
  return { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: call.function.arguments } }
}
