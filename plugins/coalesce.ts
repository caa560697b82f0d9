// Request coalescing inside one process: concurrent identical cacheable requests share one
// upstream call (a Flight). The leader's call runs under the flight's own AbortSignal, which
// fires only when every participant has left — so a follower (or the leader's own client)
// leaving never aborts the answer the others still wait for. Stream chunks are kept as they
// arrive and every participant reads them from the start, at its own pace.
import type { ChatChunk, ChatCompletion } from '../providers/contract.ts'

/** What every participant learns once the upstream has committed (or the cache answered). */
export interface FlightHead {
  provider: string
  tier: number
  attempts: number
  /** Set for a JSON answer; a stream's chunks come from `subscribe`. */
  completion?: ChatCompletion
  /** The answer came from the cache (another instance filled it meanwhile). */
  fromCache?: boolean
  /** The stream is another instance's call, relayed through Redis (plugins/cache/relay-follow.ts). */
  relayed?: boolean
}

export class Flight {
  readonly controller = new AbortController()
  readonly head: Promise<FlightHead>
  #resolveHead!: (head: FlightHead) => void
  #rejectHead!: (err: unknown) => void
  #participants = 0
  #settled = false
  readonly #chunks: ChatChunk[] = []
  #ended = false
  #failed = false
  #error: unknown
  #wake: Array<() => void> = []

  constructor() {
    this.head = new Promise<FlightHead>((resolve, reject) => {
      this.#resolveHead = resolve
      this.#rejectHead = reject
    })
    this.head.catch(() => undefined) // rejections are read by the participants, not left unhandled
  }

  /** The participants still here (clients, and a relay holding the call for other instances). */
  get participants(): number {
    return this.#participants
  }

  /** The stream already ended: a newcomer reads the whole answer from the buffer. */
  get ended(): boolean {
    return this.#ended
  }

  /** A participant arrives; returns its (idempotent) leave function. Leaving before the end by all aborts the call. */
  join(signal: AbortSignal): () => void {
    this.#participants++
    let left = false
    const leave = () => {
      if (left) return
      left = true
      signal.removeEventListener('abort', leave)
      this.#participants--
      if (this.#participants === 0 && !this.#settled) this.controller.abort()
    }
    if (signal.aborted) queueMicrotask(leave)
    else signal.addEventListener('abort', leave, { once: true })
    return leave
  }

  resolve(head: FlightHead): void {
    // A JSON answer is whole once it is here: nobody leaving now can hurt it.
    if (head.completion) this.#settled = true
    this.#resolveHead(head)
  }

  reject(err: unknown): void {
    this.#settled = true
    this.#rejectHead(err)
  }

  push(chunk: ChatChunk): void {
    this.#chunks.push(chunk)
    this.#notify()
  }

  end(): void {
    this.#settled = true
    this.#ended = true
    this.#notify()
  }

  fail(err: unknown): void {
    this.#settled = true
    this.#failed = true
    this.#error = err
    this.#notify()
  }

  /** Every chunk from the first, then the end (or the leader's failure, thrown). */
  async *subscribe(leave: () => void): AsyncGenerator<ChatChunk> {
    try {
      let next = 0
      for (;;) {
        while (next < this.#chunks.length) yield this.#chunks[next++]
        if (this.#failed) throw this.#error
        if (this.#ended) return
        await new Promise<void>((resolve) => this.#wake.push(resolve))
      }
    } finally {
      leave()
    }
  }

  #notify(): void {
    const waiting = this.#wake
    this.#wake = []
    for (const wake of waiting) wake()
  }
}

/** The flights in progress, by request key. */
export class Coalescer {
  readonly #flights = new Map<string, Flight>()

  get size(): number {
    return this.#flights.size
  }

  find(key: string): Flight | undefined {
    return this.#flights.get(key)
  }

  start(key: string): Flight {
    const flight = new Flight()
    this.#flights.set(key, flight)
    return flight
  }

  /** Only the flight that is still registered under `key` (a newer one may have replaced it). */
  finish(key: string, flight: Flight): void {
    if (this.#flights.get(key) === flight) this.#flights.delete(key)
  }
}
