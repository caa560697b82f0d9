// Which store the Redis-backed response cache serves from, decided after every Redis call:
// Redis while it answers, this instance's bounded memory while it fails. Pure, so the whole
// table is tested (test/fleet/cache-fallback.test.ts); plugins/cache/fallback-store.ts drives it.

/** 'shared': Redis serves, every instance sees the same answers. 'local': this instance's memory serves. */
export type CacheMode = 'shared' | 'local'

/**
 * 'answered' includes a miss and a value that is not a cached answer (RedisCacheStore serves
 * that as a logged miss): Redis replied, so it is not an outage. 'failed': the call was refused,
 * timed out or failed fast (plugins/redis.ts).
 */
export type RedisOutcome = 'answered' | 'failed'

export interface AfterRedis {
  mode: CacheMode
  /**
   * Redis is back: what memory kept during the outage is dropped, not copied back. Other
   * instances kept their own copies and may have answered differently; Redis stays the one
   * shared truth, and memory is freed for the next outage.
   */
  dropMemory: boolean
}

export function afterRedis(mode: CacheMode, outcome: RedisOutcome): AfterRedis {
  if (outcome === 'failed') return { mode: 'local', dropMemory: false }
  return { mode: 'shared', dropMemory: mode === 'local' }
}

/**
 * While local, an answer is kept in memory before Redis is tried: an identical request right
 * behind it is a hit even while that Redis write waits out its deadline on a hung Redis.
 * While shared, memory is written only when Redis fails: nothing is held twice.
 */
export const keepInMemoryFirst = (mode: CacheMode): boolean => mode === 'local'
