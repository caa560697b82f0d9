// The lock owner's side of a flight relay: its stream's head, chunks and end (or failure)
// appended to a Redis Stream (plugins/cache/relay-entry.ts) for followers on other instances.
//
// Never in the way of the leader's own stream: appends are queued, not awaited per chunk, and
// everything queued by the time a write goes out — the head, the chunks, the end of a stream
// that arrived in one read — goes in that one script call (one XADD per entry, one round trip:
// the Redis commands, not tiergate's code, were most of a relayed miss's cost). Bounded: the stream expires a little after CACHE_LOCK_WAIT_MS, and the relay stops
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

// KEYS: stream, lock. ARGV: stream ttl, token, lock ttl, then type, data per entry. The lock only while it is ours.
const APPEND_LUA = `for i = 4, #ARGV, 2 do redis.call('XADD', KEYS[1], '*', 't', ARGV[i], 'd', ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
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
  /** Entries waiting for the next write, in order (pending chunks become one when sealed). */
  #queue: Array<{ type: RelayEntry['type']; data: string }> = []
  #writeQueued = false
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
    this.#queueWrite()
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
    this.#sealChunks()
    this.#queue.push(encodeEntry(entry))
    this.#queueWrite()
  }

  /** The chunks pending so far become one entry, in their place before what follows them. */
  #sealChunks(): void {
    if (this.#pending.length === 0) return
    this.#queue.push({ type: 'chunks', data: chunksData(this.#pending) })
    this.#pending = []
  }

  /**
   * One write at a time; what is queued meanwhile waits for it. The first waits one turn of the
   * event loop (setImmediate), so that a head and the chunks of the read that committed it go together.
   */
  #queueWrite(): void {
    if (this.#writeQueued) return
    this.#writeQueued = true
    this.#chain = this.#chain
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        this.#writeQueued = false
        this.#sealChunks()
        const entries = this.#queue
        this.#queue = []
        return this.#append(entries)
      })
  }

  async #settle(): Promise<void> {
    await this.#chain
    clearInterval(this.#heartbeat)
  }

  /** The entries in one script call, up to the first chunks past CACHE_MAX_BYTES (then the relay is cut). */
  async #append(entries: Array<{ type: RelayEntry['type']; data: string }>): Promise<void> {
    if (this.#stopped || entries.length === 0) return
    let sending = 0
    let bytes = 0
    let overBudget = false
    for (const entry of entries) {
      const size = Buffer.byteLength(entry.data)
      if (entry.type === 'chunks' && relayBudget({ sentBytes: this.#sentBytes + bytes, nextBytes: size, maxBytes: this.#o.maxBytes }) === 'cut') {
        overBudget = true
        break
      }
      bytes += size
      sending++
    }
    try {
      if (sending > 0) await this.#write(entries.slice(0, sending))
      this.#sentBytes += bytes
      this.#o.outage.ok()
    } catch (err) {
      this.#o.outage.failed(err)
      await this.#stop('relay_failed')
      return
    }
    if (overBudget) await this.#stop('too_large')
  }

  #write(entries: ReadonlyArray<{ type: string; data: string }>): Promise<unknown> {
    const { redis, streamKey, lockKey, token, lockMs } = this.#o
    return redis.eval(APPEND_LUA, 2, streamKey, lockKey, lockMs + RELAY_STREAM_GRACE_MS, token, lockMs, ...entries.flatMap((e) => [e.type, e.data]))
  }

  /** Best effort: the marker (Redis may be what failed), then the lock goes so followers learn it now. */
  async #stop(reason: RelayCutReason): Promise<void> {
    this.#stopped = true
    this.#pending = []
    this.#queue = []
    clearInterval(this.#heartbeat)
    this.#o.onStopped()
    await this.#write([encodeEntry({ type: 'cut', reason })]).catch(() => undefined)
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
