// Reading flight relays (plugins/cache/relay-writer.ts) on a following instance.
//
// `readRelayRange` is one bounded XRANGE on any connection (a waiting instance's first look,
// and the last look at a relay whose leader is gone). `RelayReader` is the live part: ONE extra
// Redis connection per instance (a duplicate of app.redis, created when the first relay is
// followed, closed with the app) that reads every followed relay in one XREAD. The block is
// short — under REDIS_TIMEOUT_MS, which bounds every command of the duplicate too — so a relay
// followed meanwhile joins the next read, and a hung Redis costs one timeout per read, never a
// hang; what a follower makes of a silence is plugins/cache/relay-follow.ts's business.
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { OutageLog } from '../state/redis-outage.ts'
import { decodeEntry, type RelayEntry } from './relay-entry.ts'

/** Entries per read: one entry is a batch of chunks, so this is rarely reached. */
const READ_COUNT = 1_000
const MAX_BLOCK_MS = 100
/** Below this a BLOCK would be most of the command's deadline: read without one, every POLL_MS. */
const MIN_BLOCK_MS = 10
const POLL_MS = 20
/** After a failed read (Redis down, or the connection not ready yet). */
const RETRY_MS = 50

export const FIRST_RELAY_ID = '0-0'

/** Entries as read (undefined: an entry this relay does not write), and the id to read after. */
export interface RelayBatch {
  entries: Array<RelayEntry | undefined>
  lastId: string
}

type StreamRows = Array<[id: string, fields: string[]]>

const decodeRows = (rows: StreamRows) => rows.map(([, fields]) => decodeEntry(fields))

export async function readRelayRange(redis: Pick<Redis, 'xrange'>, streamKey: string, afterId = FIRST_RELAY_ID): Promise<RelayBatch> {
  const rows = await redis.xrange(streamKey, `(${afterId}`, '+', 'COUNT', READ_COUNT) as StreamRows
  return { entries: decodeRows(rows), lastId: rows.at(-1)?.[0] ?? afterId }
}

/** The read block for a command deadline of `timeoutMs` (0: no BLOCK, poll instead). */
export function blockMsFor(timeoutMs: number): number {
  const block = Math.min(MAX_BLOCK_MS, Math.floor(timeoutMs / 2))
  return block >= MIN_BLOCK_MS ? block : 0
}

interface Follow {
  lastId: string
  deliver: (batch: RelayBatch) => void
}

export class RelayReader {
  readonly #source: Redis
  readonly #blockMs: number
  readonly #connectMs: number
  readonly #outage: OutageLog
  readonly #follows = new Map<string, Follow>()
  #client: Redis | undefined
  #loop: Promise<void> | undefined
  #closed = false
  readonly #closing = new AbortController()

  constructor(source: Redis, o: { timeoutMs: number; connectMs: number; outage: OutageLog }) {
    this.#source = source
    this.#blockMs = blockMsFor(o.timeoutMs)
    this.#connectMs = o.connectMs
    this.#outage = o.outage
  }

  /** Live entries of `streamKey` after `afterId`, until the returned function is called. One follow per stream (one flight per key and instance). */
  follow(streamKey: string, afterId: string, deliver: (batch: RelayBatch) => void): () => void {
    const follow: Follow = { lastId: afterId, deliver }
    this.#follows.set(streamKey, follow)
    this.#loop ??= this.#run()
    return () => {
      if (this.#follows.get(streamKey) === follow) this.#follows.delete(streamKey)
    }
  }

  get following(): number {
    return this.#follows.size
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#closing.abort()
    this.#follows.clear()
    this.#client?.disconnect()
    await this.#loop
  }

  #connection(): Redis {
    if (this.#client) return this.#client
    const client = this.#source.duplicate({ connectionName: 'tiergate-relay' })
    client.on('error', (err) => this.#outage.failed(err))
    this.#client = client
    return client
  }

  async #run(): Promise<void> {
    while (!this.#closed && this.#follows.size > 0) {
      const client = this.#connection()
      if (client.status !== 'ready') {
        const giveUp = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(this.#connectMs)])
        await once(client, 'ready', { signal: giveUp }).catch(() => sleep(RETRY_MS))
        continue
      }
      try {
        await this.#readOnce(client)
        this.#outage.ok()
      } catch (err) {
        if (this.#closed) break
        this.#outage.failed(err)
        await sleep(RETRY_MS)
      }
    }
    this.#loop = undefined
  }

  async #readOnce(client: Redis): Promise<void> {
    const keys = [...this.#follows.keys()]
    const ids = keys.map((key) => this.#follows.get(key)!.lastId)
    const block = this.#blockMs > 0 ? ['BLOCK', this.#blockMs] : []
    // The typed method, not `call`: on RESP3 (ioredis 6's default) `call` hands back XREAD's map flattened.
    const xread = client.xread.bind(client) as unknown as (...args: Array<string | number>) => Promise<Array<[key: string, rows: StreamRows]> | null>
    const reply = await xread('COUNT', READ_COUNT, ...block, 'STREAMS', ...keys, ...ids)
    if (this.#blockMs === 0 && reply === null) await sleep(POLL_MS)
    for (const [key, rows] of reply ?? []) {
      const follow = this.#follows.get(key)
      // Unfollowed while this read was in flight: its follower has read the rest itself.
      if (!follow || rows.length === 0) continue
      follow.lastId = rows.at(-1)![0]
      follow.deliver({ entries: decodeRows(rows), lastId: follow.lastId })
    }
  }
}
