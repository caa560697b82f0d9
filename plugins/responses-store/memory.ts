// In-process stored responses: a Map in insertion order (oldest first), each entry with its
// expiry, bounded by RESPONSES_MAX_COUNT entries and RESPONSES_MAX_BYTES of JSON. A chain
// stores the whole conversation with every response, so bytes, not only the count, must be bounded.
import type { ResponsesLimits, ResponsesStore, StoredResponse } from './store.ts'

interface Entry {
  json: string
  /** UTF-8 bytes of `json`, as RESPONSES_MAX_BYTES and the Redis store count them (not UTF-16 units). */
  bytes: number
  owner: string
  expiresAt: number
}

export class MemoryResponsesStore implements ResponsesStore {
  readonly kind = 'memory' as const
  readonly #limits: ResponsesLimits
  readonly #entries = new Map<string, Entry>()
  #bytes = 0
  readonly #now: () => number

  /** `now`: the clock (tests pass their own rather than wait for a TTL to pass). */
  constructor(limits: ResponsesLimits, now: () => number = Date.now) {
    this.#limits = limits
    this.#now = now
  }

  /** Bytes held now (for tests and the status page). */
  get bytes(): number {
    return this.#bytes
  }

  get size(): number {
    return this.#entries.size
  }

  #forget(id: string, entry: Entry): void {
    this.#entries.delete(id)
    this.#bytes -= entry.bytes
  }

  #live(id: string): Entry | undefined {
    const entry = this.#entries.get(id)
    if (!entry) return undefined
    if (entry.expiresAt > this.#now()) return entry
    this.#forget(id, entry)
    return undefined
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    const entry = this.#live(id)
    // Parsed afresh each time: callers cannot change what is stored by mutating what they got.
    return entry && (JSON.parse(entry.json) as StoredResponse)
  }

  async put(stored: StoredResponse): Promise<boolean> {
    const previous = this.#live(stored.id)
    if (previous && previous.owner !== stored.owner) return false
    const json = JSON.stringify(stored)
    const bytes = Buffer.byteLength(json)
    // One response larger than the whole budget is not kept (it would evict everything else).
    if (bytes > this.#limits.maxBytes) return false
    if (previous) this.#forget(stored.id, previous)
    this.#entries.set(stored.id, { json, bytes, owner: stored.owner, expiresAt: this.#now() + this.#limits.ttlMs })
    this.#bytes += bytes
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size <= this.#limits.maxCount && this.#bytes <= this.#limits.maxBytes) break
      this.#forget(id, entry)
    }
    return true
  }

  async delete(id: string, owner: string): Promise<boolean> {
    const entry = this.#live(id)
    if (!entry || entry.owner !== owner) return false
    this.#forget(id, entry)
    return true
  }
}
