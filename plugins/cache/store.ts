// Where cached answers live: in this process (LRU bounded by CACHE_MAX_ENTRIES and
// CACHE_MAX_BYTES, each entry expiring after CACHE_TTL_MS), or in Redis (shared by every
// instance, expiry by PX). Values are JSON text, so what is replayed never carries an
// adapter's symbols (RAW_JSON, NATIVE_WIRE) from the original answer.
import type { Redis } from 'ioredis'
import type { ChatCompletion } from '../../providers/contract.ts'

/** A complete answer as the cache keeps it. */
export interface CachedAnswer {
  completion: ChatCompletion
  provider: string
  tier: number
}

export interface StoreStats {
  entries: number
  bytes: number
  evictions: number
  /** Only a Redis store with a memory fallback (plugins/cache/fallback-store.ts): the memory copy kept during an outage. */
  local?: { active: boolean; entries: number; bytes: number }
}

export interface CacheStore {
  readonly kind: 'memory' | 'redis' | 'redis+memory'
  get(key: string): Promise<CachedAnswer | undefined>
  /** Returns the bytes stored (0 when the entry was too large to keep). */
  set(key: string, answer: CachedAnswer, ttlMs: number): Promise<number>
  stats(): StoreStats
}

interface MemoryEntry {
  text: string
  expiresAt: number
}

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the least recently used.
  readonly #entries = new Map<string, MemoryEntry>()
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #now: () => number
  #bytes = 0
  #evictions = 0

  constructor(limits: { maxEntries: number; maxBytes: number }, now: () => number = Date.now) {
    this.#maxEntries = limits.maxEntries
    this.#maxBytes = limits.maxBytes
    this.#now = now
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= this.#now()) {
      this.#remove(key, entry)
      return undefined
    }
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return JSON.parse(entry.text) as CachedAnswer
  }

  async set(key: string, answer: CachedAnswer, ttlMs: number): Promise<number> {
    const text = JSON.stringify(answer)
    const size = Buffer.byteLength(text)
    if (size > this.#maxBytes) return 0
    const previous = this.#entries.get(key)
    if (previous) this.#remove(key, previous)
    this.#entries.set(key, { text, expiresAt: this.#now() + ttlMs })
    this.#bytes += size
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const [oldestKey, oldest] = this.#entries.entries().next().value!
      this.#remove(oldestKey, oldest)
      this.#evictions++
    }
    return size
  }

  stats(): StoreStats {
    return { entries: this.#entries.size, bytes: this.#bytes, evictions: this.#evictions }
  }

  /** Drops every entry; evictions keep counting (a Prometheus counter never goes back). */
  clear(): void {
    this.#entries.clear()
    this.#bytes = 0
  }

  #remove(key: string, entry: MemoryEntry): void {
    this.#entries.delete(key)
    this.#bytes -= Buffer.byteLength(entry.text)
  }
}

export const REDIS_CACHE_PREFIX = 'tiergate:cache:'

/**
 * A stored value read back, or undefined when it is not a cached answer: cut, written by
 * something else under our prefix, or by an older tiergate. That is a miss (the fill that follows
 * replaces it), never a Redis outage: JSON.parse throwing inside the store call once made it one,
 * which logged "redis unavailable" and dropped the cache to local-only for a healthy Redis.
 */
export function parseCachedAnswer(text: string): CachedAnswer | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  const answer = value as Partial<CachedAnswer> | null
  if (typeof answer !== 'object' || answer === null) return undefined
  if (typeof answer.provider !== 'string' || typeof answer.tier !== 'number') return undefined
  if (typeof answer.completion !== 'object' || answer.completion === null || !Array.isArray(answer.completion.choices)) return undefined
  return answer as CachedAnswer
}

/**
 * Redis evicts by its own maxmemory policy; `bytes` counts what this instance wrote. One answer
 * larger than CACHE_MAX_BYTES is not kept, as in memory: an upstream's oversized answer never
 * becomes a Redis value every instance then reads.
 */
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const
  readonly #redis: Pick<Redis, 'get' | 'set'>
  readonly #maxBytes: number
  #bytesWritten = 0

  readonly #onCorrupt: (key: string) => void

  /** `onCorrupt`: told of a stored value that is not a cached answer (it is served as a miss). */
  constructor(redis: Pick<Redis, 'get' | 'set'>, limits: { maxBytes: number }, onCorrupt: (key: string) => void = () => undefined) {
    this.#redis = redis
    this.#maxBytes = limits.maxBytes
    this.#onCorrupt = onCorrupt
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    const text = await this.#redis.get(REDIS_CACHE_PREFIX + key)
    if (text === null) return undefined
    const answer = parseCachedAnswer(text)
    if (answer === undefined) this.#onCorrupt(key)
    return answer
  }

  async set(key: string, answer: CachedAnswer, ttlMs: number): Promise<number> {
    const text = JSON.stringify(answer)
    const size = Buffer.byteLength(text)
    if (size > this.#maxBytes) return 0
    await this.#redis.set(REDIS_CACHE_PREFIX + key, text, 'PX', ttlMs)
    this.#bytesWritten += size
    return size
  }

  stats(): StoreStats {
    return { entries: -1, bytes: this.#bytesWritten, evictions: 0 }
  }
}
