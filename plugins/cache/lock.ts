// Coalescing across instances: a short Redis lock per request key. The instance that takes it
// calls upstream; the others wait (at most CACHE_LOCK_WAIT_MS) for its answer to appear in the
// shared cache — or, for a streamed request, for the owner's relay to commit, and then follow it
// live (plugins/cache/relay-follow.ts; the owner refreshes its lock while it relays). Every Redis call is bounded by REDIS_TIMEOUT_MS; Redis slow or down means
// "no lock": each instance then calls on its own (still one call per instance, see coalesce.ts).
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { CachedAnswer, CacheStore } from './store.ts'
import type { OutageLog } from '../state/redis-outage.ts'
import { flightStreamKey } from './relay-entry.ts'
import { attachDecision } from './relay-decide.ts'
import { readRelayRange } from './relay-reader.ts'
import type { FoundRelay } from './relay-follow.ts'

export const REDIS_LOCK_PREFIX = 'tiergate:cache-lock:'
/** Polling interval while waiting on another instance's answer: starts short, grows to the cap. */
const POLL_FIRST_MS = 10
const POLL_MAX_MS = 100

// Delete the lock only if it is still ours (it may have expired and been taken by another).
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

export type LockOutcome =
  /** `token` is the lock's value: the owner's relay is flightStreamKey(key, token). */
  | { kind: 'owned'; lockKey: string; token: string; release: () => Promise<void> }
  | { kind: 'answered'; answer: CachedAnswer }
  /** The owner is streaming its answer through a relay (only asked for with `follow`). */
  | ({ kind: 'relayed' } & FoundRelay)
  /** No lock (Redis unavailable, or the wait ran out): call upstream without one. */
  | { kind: 'alone' }

export interface LockOptions {
  redis: Redis
  store: CacheStore
  waitMs: number
  outage: OutageLog
  signal: AbortSignal
  /** A streamed request: follow the owner's relay once it has committed, instead of waiting for the whole answer. */
  follow?: boolean
}

export async function lockOrAwait(key: string, o: LockOptions): Promise<LockOutcome> {
  const lockKey = REDIS_LOCK_PREFIX + key
  const token = randomUUID()
  const tryLock = async (): Promise<LockOutcome | undefined> => {
    const taken = await o.redis.set(lockKey, token, 'PX', o.waitMs, 'NX')
    if (taken !== 'OK') return undefined
    return {
      kind: 'owned',
      lockKey,
      token,
      release: async () => {
        await o.redis.eval(RELEASE_LUA, 1, lockKey, token).catch((err) => o.outage.failed(err))
      },
    }
  }
  try {
    const deadline = Date.now() + o.waitMs
    let pollMs = POLL_FIRST_MS
    for (;;) {
      const owned = await tryLock()
      if (owned) {
        o.outage.ok()
        return owned
      }
      // Someone else leads: wait for its answer, for its relay to start (a stream), or for its
      // lock to go (it failed or finished).
      for (;;) {
        if (Date.now() >= deadline || o.signal.aborted) return { kind: 'alone' }
        await sleep(pollMs)
        pollMs = Math.min(POLL_MAX_MS, pollMs * 2)
        const answer = await o.store.get(key)
        if (answer) return { kind: 'answered', answer }
        const holder = await o.redis.get(lockKey)
        if (holder === null) break
        if (o.follow) {
          const streamKey = flightStreamKey(key, holder)
          const first = await readRelayRange(o.redis, streamKey)
          if (attachDecision(first.entries) === 'follow') return { kind: 'relayed', lockKey, token: holder, streamKey, first }
        }
      }
      // The lock was released without an answer in the cache (the leader's call failed, or its
      // answer was not cacheable): race for it again rather than all calling at once.
      const answer = await o.store.get(key)
      if (answer) return { kind: 'answered', answer }
    }
  } catch (err) {
    o.outage.failed(err)
    return { kind: 'alone' }
  }
}
