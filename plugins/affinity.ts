// Decorates `app.affinity` (when AFFINITY_TTL_MS > 0): cache-warm routing. The turns of one
// conversation go to the provider and key that served it last, so that provider's prompt cache
// stays warm (cached_tokens / cache_read_input_tokens rise instead of scattering across keys).
// The router asks `lookup` before it orders candidates and calls `record` with what served;
// health and breakers still win there (an open breaker or a cooling key is left at once).
// Pins live in memory, or in Redis (REDIS_URL) so that every instance follows them; a lookup
// never waits longer than REDIS_TIMEOUT_MS, and Redis down = no pin (routing as usual).
// Keys in Redis hold digests, never message text. Depends on `redis`.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { ChatRequest } from '../providers/contract.ts'
import type { RequestContext } from './router.ts'
import { lookupKeys, recordKeys } from './affinity-key.ts'
import { OutageLog } from './state/redis-outage.ts'

export interface Pin {
  provider: string
  /** Key fingerprint ('anonymous' for keyless providers), never the key. */
  key: string
}

export interface Affinity {
  lookup(req: ChatRequest, rctx: RequestContext): Promise<Pin | undefined>
  record(req: ChatRequest, rctx: RequestContext, served: Pin): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    affinity: Affinity
  }
}

export const AFFINITY_PREFIX = 'tiergate:affinity:'
/** The in-memory store forgets the least recently pinned conversation beyond this many. */
export const MAX_MEMORY_PINS = 100_000

interface PinStore {
  get(keys: string[]): Promise<Pin | undefined>
  set(keys: string[], pin: Pin, ttlMs: number): Promise<void>
}

function memoryPins(now: () => number = Date.now): PinStore {
  const pins = new Map<string, { pin: Pin; expiresAt: number }>()
  return {
    async get(keys) {
      for (const key of keys) {
        const entry = pins.get(key)
        if (entry && entry.expiresAt > now()) return entry.pin
        if (entry) pins.delete(key)
      }
      return undefined
    },
    async set(keys, pin, ttlMs) {
      for (const key of keys) {
        pins.delete(key) // re-inserted last: the Map's first entry is the least recently pinned
        pins.set(key, { pin, expiresAt: now() + ttlMs })
      }
      while (pins.size > MAX_MEMORY_PINS) pins.delete(pins.keys().next().value!)
    },
  }
}

const parsePin = (text: string | null): Pin | undefined => {
  if (text === null) return undefined
  try {
    const pin = JSON.parse(text) as Pin
    return typeof pin.provider === 'string' && typeof pin.key === 'string' ? pin : undefined
  } catch {
    return undefined
  }
}

export default fp(async function affinity(app: FastifyInstance) {
  const { ttlMs } = app.config.affinity
  if (ttlMs <= 0) return
  const redis = app.redis
  const outage = new OutageLog(app.log, 'affinity')
  const store: PinStore = redis
    ? {
        async get(keys) {
          const values = await redis.mget(...keys.map((k) => AFFINITY_PREFIX + k))
          for (const value of values) {
            const pin = parsePin(value)
            if (pin) return pin
          }
          return undefined
        },
        async set(keys, pin, ttl) {
          const text = JSON.stringify(pin)
          const batch = redis.multi()
          for (const key of keys) batch.set(AFFINITY_PREFIX + key, text, 'PX', ttl)
          await batch.exec()
        },
      }
    : memoryPins()

  const affinity: Affinity = {
    async lookup(req, rctx) {
      const lookup = lookupKeys(req, rctx.clientKeyId, rctx.conversationId)
      if (lookup.length === 0) return undefined
      try {
        const pin = await store.get(lookup)
        outage.ok()
        return pin
      } catch (err) {
        outage.failed(err)
        return undefined
      }
    },
    async record(req, rctx, served) {
      const record = recordKeys(req, rctx.clientKeyId, rctx.conversationId)
      if (record.length === 0) return
      try {
        await store.set(record, { provider: served.provider, key: served.key }, ttlMs)
        outage.ok()
      } catch (err) {
        outage.failed(err)
      }
    },
  }
  app.decorate('affinity', affinity)
}, { name: 'affinity', dependencies: ['redis'] })
