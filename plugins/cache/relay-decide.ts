// The decisions of a flight relay, as pure functions (table-tested in
// test/fleet/flight-relay-decide.test.ts): whether a waiting instance follows the lock owner's
// relay, whether a silent relay means its leader is gone, and whether the leader may relay more.
import type { RelayEntry } from './relay-entry.ts'

/**
 * A waiting instance that finds the lock held and reads the owner's relay:
 * - `follow`: the owner's stream has committed (a head) and nothing stopped it: its chunks are live;
 * - `not_yet`: the owner has not committed yet (or answers JSON, which is never relayed): keep
 *   waiting as before — for the cache, or for the lock to go;
 * - `never`: the relay failed or was cut (or holds an entry this relay does not write): an
 *   instance that arrives now would only replay a failure, so it waits for the lock to go and
 *   calls on its own, as a newcomer in one process starts a fresh flight after a failed one.
 */
export function attachDecision(entries: ReadonlyArray<RelayEntry | undefined>): 'follow' | 'not_yet' | 'never' {
  if (entries.some((e) => e === undefined || e.type === 'fail' || e.type === 'cut')) return 'never'
  return entries[0]?.type === 'head' ? 'follow' : 'not_yet'
}

/** Who holds the cache lock, as a following instance sees it. */
export type LockHolder = 'leader' | 'other' | 'none' | 'unknown'

/**
 * A followed relay that has been silent for `silentForMs`:
 * - its leader still holds the lock: it is alive (its heartbeat refreshes the lock while its
 *   upstream thinks), so wait;
 * - the lock is gone or someone else's: the leader is gone (killed, or cut off from Redis) —
 *   nothing more will come;
 * - Redis cannot say (down, timed out): wait, but never past `boundMs` of silence.
 */
export function silenceDecision(o: { holder: LockHolder; silentForMs: number; boundMs: number }): 'wait' | 'vanished' {
  if (o.holder === 'leader') return 'wait'
  if (o.holder === 'unknown') return o.silentForMs >= o.boundMs ? 'vanished' : 'wait'
  return 'vanished'
}

/**
 * The leader's relayed call once its heartbeat has looked: it goes on while a client of its own
 * instance reads it, or another instance follows its relay; with neither, it is aborted, as an
 * in-process flight is when its last participant leaves. Redis unable to say counts as followed.
 */
export function keepRelayedCall(o: { localClients: number; followed: boolean | 'unknown' }): 'keep' | 'abort' {
  return o.localClients > 0 || o.followed !== false ? 'keep' : 'abort'
}

/** The leader relays a batch while the relay stays within CACHE_MAX_BYTES; past it, it stops with a marker. */
export function relayBudget(o: { sentBytes: number; nextBytes: number; maxBytes: number }): 'send' | 'cut' {
  return o.sentBytes + o.nextBytes <= o.maxBytes ? 'send' : 'cut'
}
