// The lock owner's side of a flight relay: its stream's head, chunks and end (or failure)
// appended to a Redis Stream (plugins/cache/relay-entry.ts) for followers on other instances.
//
// Never in the way of the leader's own stream: appends are queued, not awaited per chunk, and
// the chunks that arrive while one append is in flight go out together in the next (one XADD
// per batch). Bounded: the stream expires a little after CACHE_LOCK_WAIT_MS, and the relay stops
// with a `cut` marker past CACHE_MAX_BYTES. While it runs, every append and a heartbeat refresh
// the stream's and the lock's expiry, so the lock outlives a long answer (a newcomer follows
// instead of calling again) but not a killed leader (followers then learn it from the lock).
// A failed append stops the relay and lets the lock go early, so followers end honestly instead
// of waiting for the lock to expire. Every call is bounded by REDIS_TIMEOUT_MS.
import type { Redis } from 'ioredis'
import type { ChatChunk } from '../../providers/contract.ts'
import type { OutageLog } from '../state/redis-outage.ts'
import { chunksData, encodeEntry, flightFollowedKey, relayedError, type RelayCutReason, type RelayEntry, type RelayHead } from './relay-entry.ts'
import { relayBudget } from './relay-decide.ts'

/** How long the stream outlives the lock: followers still read its tail after the lock is released. */
export const RELAY_STREAM_GRACE_MS = 1_000
/** The heartbeat refreshes the lock this many times per lock lifetime. */
const HEARTBEATS_PER_LOCK = 3
const MIN_HEARTBEAT_MS = 10

// KEYS: stream, lock. ARGV: type, data, stream ttl, token, lock ttl. The lock only while it is ours.
const APPEND_LUA = `redis.call('XADD', KEYS[1], '*', 't', ARGV[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return 1`
// KEYS: stream, lock, followed. ARGV: token, lock ttl, stream ttl. Returns whether anyone follows.
const HEARTBEAT_LUA = `if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('EXISTS', KEYS[3])`

export const heartbeatEveryMs = (lockMs: number) => Math.max(MIN_HEARTBEAT_MS, Math.floor(lockMs / HEARTBEATS_PER_LOCK))

export interface RelayWriterOptions {
  redis: Redis
  streamKey: string
  lockKey: string
  token: string
  /** CACHE_LOCK_WAIT_MS: the lock's lifetime, refreshed while relaying. */
  lockMs: number
  /** CACHE_MAX_BYTES: the relay's budget for chunk entries. */
  maxBytes: number
  outage: OutageLog
  /** Lets the lock go (only if still ours): called at once when the relay stops without its end. */
  release: () => Promise<void>
  /** Each heartbeat: whether another instance follows the relay now ('unknown' when Redis could not say). */
  onHeartbeat: (followed: boolean | 'unknown') => void
  /** The relay stopped without its end (cut, or Redis failed): nobody can follow it any more. */
  onStopped: () => void
}

export class RelayWriter {
  readonly #o: RelayWriterOptions
  #chain: Promise<void> = Promise.resolve()
  /** Chunks serialized when they arrive: what is relayed is the chunk as the leader's clients got it, whatever touches the object later. */
  #pending: string[] = []
  #batchQueued = false
  #stopped = false
  #sentBytes = 0
  readonly #heartbeat: NodeJS.Timeout

  constructor(o: RelayWriterOptions, head: RelayHead) {
    this.#o = o
    this.#enqueue({ type: 'head', head })
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatEveryMs(o.lockMs))
    this.#heartbeat.unref()
  }

  chunk(chunk: ChatChunk): void {
    if (this.#stopped) return
    this.#pending.push(JSON.stringify(chunk))
    if (this.#batchQueued) return
    this.#batchQueued = true
    this.#chain = this.#chain.then(() => {
      this.#batchQueued = false
      const data = chunksData(this.#pending)
      this.#pending = []
      return this.#append('chunks', data)
    })
  }

  /** The clean end, after every chunk; resolves once it is written (or the relay stopped). */
  end(): Promise<void> {
    this.#enqueue({ type: 'end' })
    return this.#settle()
  }

  /** The leader's stream failed after commit: followers end with the same error. */
  fail(err: unknown): Promise<void> {
    this.#enqueue({ type: 'fail', error: relayedError(err) })
    return this.#settle()
  }

  #enqueue(entry: RelayEntry): void {
    const { type, data } = encodeEntry(entry)
    this.#chain = this.#chain.then(() => this.#append(type, data))
  }

  async #settle(): Promise<void> {
    await this.#chain
    clearInterval(this.#heartbeat)
  }

  async #append(type: RelayEntry['type'], data: string): Promise<void> {
    if (this.#stopped) return
    const bytes = Buffer.byteLength(data)
    if (type === 'chunks' && relayBudget({ sentBytes: this.#sentBytes, nextBytes: bytes, maxBytes: this.#o.maxBytes }) === 'cut') {
      await this.#stop('too_large')
      return
    }
    try {
      await this.#write(type, data)
      this.#sentBytes += bytes
      this.#o.outage.ok()
    } catch (err) {
      this.#o.outage.failed(err)
      await this.#stop('relay_failed')
    }
  }

  #write(type: string, data: string): Promise<unknown> {
    const { redis, streamKey, lockKey, token, lockMs } = this.#o
    return redis.eval(APPEND_LUA, 2, streamKey, lockKey, type, data, lockMs + RELAY_STREAM_GRACE_MS, token, lockMs)
  }

  /** Best effort: the marker (Redis may be what failed), then the lock goes so followers learn it now. */
  async #stop(reason: RelayCutReason): Promise<void> {
    this.#stopped = true
    this.#pending = []
    clearInterval(this.#heartbeat)
    this.#o.onStopped()
    const { type, data } = encodeEntry({ type: 'cut', reason })
    await this.#write(type, data).catch(() => undefined)
    await this.#o.release()
  }

  #beat(): void {
    if (this.#stopped) return
    const { redis, streamKey, lockKey, token, lockMs } = this.#o
    redis.eval(HEARTBEAT_LUA, 3, streamKey, lockKey, flightFollowedKey(streamKey), token, lockMs, lockMs + RELAY_STREAM_GRACE_MS)
      .then((followed) => {
        this.#o.outage.ok()
        if (!this.#stopped) this.#o.onHeartbeat(followed === 1)
      }, (err) => {
        this.#o.outage.failed(err)
        if (!this.#stopped) this.#o.onHeartbeat('unknown')
      })
  }
}
