// Shares provider health across instances through Redis (REDIS_URL): key cooldowns (429 with
// its Retry-After, 401/403 key outages) and open breakers, per provider and model. Local
// changes (app.providerState.subscribe) are written with a TTL equal to their deadline and
// announced on a channel; changes announced by other instances are applied locally
// (app.providerState.apply: the later deadline wins). On start and after every reconnect the
// live state is loaded with SCAN, and what this instance learned meanwhile is published again.
// The request path never waits on any of this: reads stay local, writes are fire-and-forget
// and bounded by REDIS_TIMEOUT_MS; with Redis down each instance runs on its own state (logged
// once) and shares again once Redis is back. Health/latency EWMAs are not shared (each
// instance measures its own path). Depends on `redis` and `registry` (which owns providerState).
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { HealthEvent } from './provider-state.ts'
import { MERGE_LUA, STATE_CHANNEL, STATE_PREFIX, deadlineOf, laterWins, parseMessage, stateKey, ttlMs, type StateMessage } from './redis-events.ts'
import { OutageLog } from './redis-outage.ts'

/** Keys fetched per SCAN round trip while loading the shared state. */
const SCAN_BATCH = 200
/** After a failed join (Redis half back), try again this soon. */
const RESYNC_RETRY_MS = 200

interface MergeCommands {
  tiergateStateMerge(key: string, message: string, deadline: string, ttl: string, channel: string): Promise<number>
}

export interface StateSync {
  /** Subscribed and loaded: remote changes arrive (tests and status; start-up does not wait for it). */
  connected(): boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    stateSync: StateSync | undefined
  }
}

export default fp(async function redisStateSync(app: FastifyInstance) {
  const redis = app.redis
  if (!redis) {
    app.decorate('stateSync', undefined)
    return
  }
  const origin = randomUUID()
  const resetMs = app.config.breaker.resetTimeoutMs
  const outage = new OutageLog(app.log, 'shared provider state')
  const writer = redis as Redis & MergeCommands
  writer.defineCommand('tiergateStateMerge', { numberOfKeys: 1, lua: MERGE_LUA })
  // SUBSCRIBE takes a connection for itself.
  const subscriber = redis.duplicate({ connectionName: 'tiergate-state' })
  subscriber.on('error', () => undefined) // the main client logs Redis errors; outages are logged once by `outage`
  /** What this instance learned itself, still in force: published again after an outage. */
  const local = new Map<string, HealthEvent>()
  let closing = false

  // Every command is bounded by ioredis's commandTimeout (REDIS_TIMEOUT_MS, plugins/redis.ts).
  function publish(e: HealthEvent): void {
    const now = Date.now()
    const ttl = ttlMs(e, now, resetMs)
    const key = stateKey(e)
    if (ttl === undefined) local.delete(key)
    else local.set(key, e)
    const message: StateMessage = { origin, event: e }
    const deadline = deadlineOf(e)
    writer.tiergateStateMerge(key, JSON.stringify(message), deadline === undefined ? '' : String(Math.round(deadline)), ttl === undefined ? '' : String(ttl), STATE_CHANNEL)
      .then(() => outage.ok(), (err) => outage.failed(err))
  }

  function applyRemote(e: HealthEvent): void {
    const key = stateKey(e)
    const mine = local.get(key)
    if (mine && !laterWins(mine, e)) return
    if (mine) local.delete(key) // another instance now holds the later deadline
    app.providerState.apply(e)
  }

  async function load(): Promise<void> {
    let cursor = '0'
    do {
      const [next, keys] = await redis!.scan(cursor, 'MATCH', `${STATE_PREFIX}*`, 'COUNT', SCAN_BATCH)
      cursor = next
      if (keys.length === 0) continue
      const values = await redis!.mget(...keys)
      for (const value of values) {
        const message = value === null ? undefined : parseMessage(value)
        if (message && message.origin !== origin) applyRemote(message.event)
      }
    } while (cursor !== '0')
  }

  /**
   * Joining (or re-joining after an outage): subscribe, load what the others know, then publish
   * what we learned alone. Both connections must be up (they reconnect independently, and a
   * command on one still down fails at once: no offline queue); whichever comes back last
   * triggers it, and a failed attempt is retried shortly while Redis answers nothing.
   */
  let synced = false
  let retry: NodeJS.Timeout | undefined
  let running = false
  async function resync(): Promise<void> {
    clearTimeout(retry)
    if (closing || running || redis!.status !== 'ready' || subscriber.status !== 'ready') return
    running = true
    try {
      await subscriber.subscribe(STATE_CHANNEL)
      await load()
      const now = Date.now()
      for (const e of local.values()) if ((deadlineOf(e) ?? 0) > now) publish(e)
      synced = true
      outage.ok()
    } catch (err) {
      outage.failed(err)
      retry = setTimeout(() => void resync(), RESYNC_RETRY_MS)
      retry.unref()
    } finally {
      running = false
    }
  }

  subscriber.on('message', (_channel, text) => {
    const message = parseMessage(text)
    if (message && message.origin !== origin) applyRemote(message.event)
  })
  // Subscribed on every (re)connect: a SUBSCRIBE sent while disconnected fails (no offline
  // queue, see plugins/redis.ts), and ioredis re-subscribes only what once succeeded.
  subscriber.on('ready', () => void resync())
  redis.on('ready', () => void resync())
  subscriber.on('close', () => {
    synced = false
    if (!closing) outage.failed(new Error('subscription connection closed'))
  })
  redis.on('close', () => {
    synced = false
  })
  void resync()

  const unsubscribe = app.providerState.subscribe(publish)
  app.decorate('stateSync', { connected: () => synced })

  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(retry)
    unsubscribe()
    await subscriber.quit().catch(() => subscriber.disconnect())
  })
}, { name: 'redis-state-sync', dependencies: ['redis', 'registry'] })
