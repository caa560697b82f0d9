// A following instance feeds another instance's relayed stream into its own Flight
// (plugins/coalesce.ts): head → resolve, chunks → push, end → end, fail → fail. Its clients then
// read the leader's chunks live, as in-process followers do, and everything the Flight promises
// holds: a client leaving never touches the leader (all a follower writes is its presence, below).
//
// A relay can also just stop: its leader killed, or cut off from Redis. A silent relay is judged
// by its lock (plugins/cache/relay-decide.ts): while the leader holds it — its heartbeat keeps it
// — the follower waits; once it is gone, whatever is left in the stream is read and, without an
// end, the follower's stream fails with an honest error event. Never a hang, never a clean end.
// While it follows, it refreshes a presence key: the leader's call goes on for it even after the
// leader's own clients left (plugins/cache/relay-decide.ts keepRelayedCall).
import type { Redis } from 'ioredis'
import type { Flight } from '../coalesce.ts'
import type { OutageLog } from '../state/redis-outage.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import { errorFromRelay, flightFollowedKey, relayStoppedError, type RelayEntry } from './relay-entry.ts'
import { silenceDecision, type LockHolder } from './relay-decide.ts'
import { readRelayRange, type RelayBatch, type RelayReader } from './relay-reader.ts'
import { heartbeatEveryMs, RELAY_STREAM_GRACE_MS } from './relay-writer.ts'

/** A lock owner's relay, found with a committed head (plugins/cache/lock.ts). */
export interface FoundRelay {
  lockKey: string
  token: string
  streamKey: string
  first: RelayBatch
}

export interface FollowOptions {
  reader: RelayReader
  /** The main connection: lock checks and the last read of a relay whose leader is gone. */
  redis: Redis
  lockMs: number
  outage: OutageLog
}

/** Resolves once the flight has its end or its failure, or every local client left. */
export function followRelay(flight: Flight, relay: FoundRelay, o: FollowOptions): Promise<void> {
  return new Promise<void>((done) => {
    let provider = ''
    let committed = false
    let finished = false
    let lastId = relay.first.lastId
    let lastEntryAt = Date.now()
    let checking = false
    let unfollow = () => {}
    const checkEveryMs = heartbeatEveryMs(o.lockMs)
    // The leader keeps its call going for followers it cannot see: this says there is one (expiring on its own).
    const followedKey = flightFollowedKey(relay.streamKey)
    const markFollowed = () => {
      if (finished) return
      o.redis.set(followedKey, '1', 'PX', o.lockMs).then(() => o.outage.ok(), (err) => o.outage.failed(err))
    }
    const watchdog = setInterval(() => {
      markFollowed()
      void checkSilence()
    }, checkEveryMs)
    watchdog.unref()

    const finish = () => {
      if (finished) return
      finished = true
      unfollow()
      clearInterval(watchdog)
      flight.controller.signal.removeEventListener('abort', onAbandoned)
      done()
    }
    const fail = (err: unknown) => {
      flight.fail(err)
      finish()
    }

    /** One entry into the flight; false once the flight is over. */
    const apply = (entry: RelayEntry | undefined): boolean => {
      if (entry === undefined || (entry.type === 'head') === committed) {
        fail(relayStoppedError('unreadable', provider))
        return false
      }
      switch (entry.type) {
        case 'head':
          committed = true
          provider = entry.head.provider
          flight.resolve({ ...entry.head, relayed: true })
          return true
        case 'chunks':
          for (const chunk of entry.chunks) flight.push(chunk)
          return true
        case 'end':
          flight.end()
          finish()
          return false
        case 'fail':
          fail(errorFromRelay(entry.error, provider))
          return false
        case 'cut':
          fail(relayStoppedError(entry.reason, provider))
          return false
      }
    }
    const deliver = (batch: RelayBatch) => {
      lastId = batch.lastId
      lastEntryAt = Date.now()
      for (const entry of batch.entries) if (finished || !apply(entry)) return
    }

    const lockHolder = async (): Promise<LockHolder> => {
      try {
        const holder = await o.redis.get(relay.lockKey)
        o.outage.ok()
        return holder === null ? 'none' : holder === relay.token ? 'leader' : 'other'
      } catch (err) {
        o.outage.failed(err)
        return 'unknown'
      }
    }

    async function checkSilence(): Promise<void> {
      const silentForMs = Date.now() - lastEntryAt
      if (finished || checking || silentForMs < checkEveryMs) return
      checking = true
      const holder = await lockHolder()
      checking = false
      if (finished || silenceDecision({ holder, silentForMs, boundMs: o.lockMs + RELAY_STREAM_GRACE_MS }) === 'wait') return
      // The leader is gone: stop the live read first (so no entry comes twice), then read what it left.
      unfollow()
      for (;;) {
        const tail = await readRelayRange(o.redis, relay.streamKey, lastId).catch(() => undefined)
        if (!tail || tail.entries.length === 0) break
        deliver(tail)
        if (finished) return
      }
      fail(relayStoppedError('vanished', provider))
    }

    // Every local client left: stop reading. The leader, elsewhere, is never told.
    function onAbandoned() {
      fail(new UpstreamError('aborted', 'the client closed the request'))
    }

    deliver(relay.first)
    if (finished) return
    markFollowed()
    flight.controller.signal.addEventListener('abort', onAbandoned, { once: true })
    if (flight.controller.signal.aborted) return onAbandoned()
    unfollow = o.reader.follow(relay.streamKey, lastId, deliver)
  })
}
