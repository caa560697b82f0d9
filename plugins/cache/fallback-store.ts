// The response cache's store with REDIS_URL: Redis, and while Redis fails, this instance's own
// bounded memory (the MemoryCacheStore, CACHE_MAX_ENTRIES / CACHE_MAX_BYTES), so the cache keeps
// answering through an outage instead of missing on every request. Back to Redis on the first
// call it answers (the outage log's "redis is back"); what memory kept is dropped then, not
// copied back. plugins/cache/fallback-mode.ts is the decision, this file the I/O around it.
//
// Redis is asked first on every call, even during an outage: that ask is the probe that notices
// its return, and it costs nothing while the client fails fast (disconnected: no offline queue;
// hung: plugins/redis.ts's window after two timeouts). So a cache call waits on Redis at most
// REDIS_TIMEOUT_MS, once, and never throws: a failure is logged once by the outage log.
import type { CachedAnswer, CacheStore, MemoryCacheStore, RedisCacheStore, StoreStats } from './store.ts'
import type { OutageLog } from '../state/redis-outage.ts'
import { afterRedis, keepInMemoryFirst, type CacheMode, type RedisOutcome } from './fallback-mode.ts'

export class RedisWithMemoryFallback implements CacheStore {
  readonly kind = 'redis+memory' as const
  readonly #redis: Pick<RedisCacheStore, 'get' | 'set' | 'stats'>
  readonly #memory: MemoryCacheStore
  readonly #outage: Pick<OutageLog, 'failed' | 'ok'>
  #mode: CacheMode = 'shared'

  constructor(redis: Pick<RedisCacheStore, 'get' | 'set' | 'stats'>, memory: MemoryCacheStore, outage: Pick<OutageLog, 'failed' | 'ok'>) {
    this.#redis = redis
    this.#memory = memory
    this.#outage = outage
  }

  get mode(): CacheMode {
    return this.#mode
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    let answer: CachedAnswer | undefined
    try {
      answer = await this.#redis.get(key)
    } catch (err) {
      this.#after('failed', err)
      return this.#memory.get(key)
    }
    this.#after('answered')
    return answer
  }

  async set(key: string, answer: CachedAnswer, ttlMs: number): Promise<number> {
    const keptInMemory = keepInMemoryFirst(this.#mode) ? await this.#memory.set(key, answer, ttlMs) : undefined
    let written: number
    try {
      written = await this.#redis.set(key, answer, ttlMs)
    } catch (err) {
      this.#after('failed', err)
      return keptInMemory ?? this.#memory.set(key, answer, ttlMs)
    }
    // 0: too large to keep, refused before any I/O; Redis was not asked, so nothing is learned of it.
    if (written > 0) this.#after('answered')
    return written
  }

  /**
   * entries/bytes are the Redis store's (-1: Redis's count is not ours to know; bytes this
   * instance wrote there), evictions the memory's (only it evicts by our bounds), and `local`
   * what memory holds now: 0 while Redis serves, since it is dropped when Redis comes back.
   */
  stats(): StoreStats {
    const redis = this.#redis.stats()
    const memory = this.#memory.stats()
    return {
      entries: redis.entries,
      bytes: redis.bytes,
      evictions: memory.evictions,
      local: { active: this.#mode === 'local', entries: memory.entries, bytes: memory.bytes },
    }
  }

  #after(outcome: RedisOutcome, err?: unknown): void {
    const next = afterRedis(this.#mode, outcome)
    this.#mode = next.mode
    if (next.dropMemory) this.#memory.clear()
    if (outcome === 'failed') this.#outage.failed(err)
    else this.#outage.ok()
  }
}
