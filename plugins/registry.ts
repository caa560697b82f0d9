// Decorates `app.providers`: register/get/list providers. For each registered provider it
// owns an opossum breaker, a key pool, health stats and the catalog-discovery loop, and
// closes them all when the app closes. Depends on `events` (breaker transitions).
import fp from 'fastify-plugin'
import CircuitBreaker from 'opossum'
import type { FastifyInstance } from 'fastify'
import type { Provider } from '../providers/contract.ts'
import type { ProviderSettings } from '../config.ts'
import { KeyPool } from '../providers/key-pool.ts'
import { ProviderHealth } from './router/health.ts'
import { UpstreamError } from '../providers/upstream-error.ts'

export type BreakerState = 'closed' | 'half_open' | 'open'

export interface ProviderEntry {
  readonly name: string
  readonly tier: number
  readonly provider: Provider
  readonly settings: ProviderSettings
  /** Fires `thunk()`; one breaker per provider, shared by all its requests. */
  readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>
  readonly keys: KeyPool
  readonly health: ProviderHealth
  lastRefreshAt: string | undefined
}

export interface ProviderRegistry {
  register(provider: Provider, settings: ProviderSettings): ProviderEntry
  get(name: string): ProviderEntry | undefined
  list(): ProviderEntry[]
  has(name: string): boolean
  /** Re-discover every provider's catalog now (bounded by DISCOVERY_TIMEOUT_MS). */
  refreshAll(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    providers: ProviderRegistry
  }
}

export function breakerState(breaker: CircuitBreaker): BreakerState {
  if (breaker.opened) return 'open'
  if (breaker.halfOpen) return 'half_open'
  return 'closed'
}

/**
 * Faults that say nothing about the provider's health do not count against its breaker: the
 * client's own, what it cannot do, and the key-level ones the key pool already handles — a 429
 * (that key, or the anonymous slot, cools down) and, when the provider has keys, a 401/403
 * (that key is taken out while the others serve). A keyless provider answering 401 is failing.
 */
function isNeutral(err: unknown, keyed: boolean): boolean {
  if (!(err instanceof UpstreamError)) return false
  if (err.isClientFault || err.kind === 'unsupported' || err.kind === 'cooling_down' || err.kind === 'rate_limited') return true
  return keyed && err.kind === 'auth'
}

export default fp(async function registry(app: FastifyInstance) {
  const entries = new Map<string, ProviderEntry>()
  const { breaker: breakerConfig, routing, resilience } = app.config

  async function refresh(entry: ProviderEntry): Promise<void> {
    if (!entry.provider.refresh) return
    const signal = AbortSignal.timeout(routing.discoveryTimeoutMs)
    try {
      await entry.provider.refresh(signal)
      entry.lastRefreshAt = new Date().toISOString()
    } catch (err) {
      // Discovery must never take the gateway down; an unreachable upstream is normal.
      app.log.debug({ provider: entry.name, err: (err as Error).message }, 'catalog discovery failed')
    }
  }

  const providers: ProviderRegistry = {
    register(provider, settings) {
      if (entries.has(provider.name)) throw new Error(`provider ${provider.name} registered twice`)
      const breaker = new CircuitBreaker((thunk: () => Promise<unknown>) => thunk(), {
        name: provider.name,
        // 0 = off: the layered timeouts (connect, first byte, idle, total) already bound each attempt.
        timeout: breakerConfig.timeoutMs > 0 ? breakerConfig.timeoutMs : false,
        errorThresholdPercentage: breakerConfig.errorThresholdPercentage,
        resetTimeout: breakerConfig.resetTimeoutMs,
        volumeThreshold: breakerConfig.volumeThreshold,
        rollingCountTimeout: breakerConfig.rollingWindowMs,
        rollingCountBuckets: 10,
        errorFilter: (err: unknown) => isNeutral(err, settings.apiKeys.length > 0),
      })
      breaker.on('open', () => {
        app.log.warn({ provider: provider.name }, 'circuit breaker opened')
        app.events.emit('breaker', { provider: provider.name, state: 'open' })
      })
      breaker.on('halfOpen', () => app.events.emit('breaker', { provider: provider.name, state: 'half_open' }))
      breaker.on('close', () => {
        app.log.info({ provider: provider.name }, 'circuit breaker closed')
        app.events.emit('breaker', { provider: provider.name, state: 'closed' })
      })
      const entry: ProviderEntry = {
        name: provider.name,
        tier: settings.tier,
        provider,
        settings,
        breaker,
        keys: new KeyPool(settings.apiKeys, resilience.keyAuthCooldownMs),
        health: new ProviderHealth(),
        lastRefreshAt: undefined,
      }
      entries.set(provider.name, entry)
      return entry
    },
    get: (name) => entries.get(name),
    has: (name) => entries.has(name),
    list: () => [...entries.values()],
    refreshAll: async () => {
      await Promise.all([...entries.values()].map(refresh))
    },
  }
  app.decorate('providers', providers)

  let timer: NodeJS.Timeout | undefined
  // Start-up waits for discovery at most DISCOVERY_TIMEOUT_MS; unreachable upstreams fail fast.
  app.addHook('onReady', async () => {
    await providers.refreshAll()
    if (routing.modelsRefreshMs > 0) {
      timer = setInterval(() => void providers.refreshAll(), routing.modelsRefreshMs)
      timer.unref()
    }
  })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    for (const entry of entries.values()) {
      entry.breaker.shutdown()
      await entry.provider.close?.()
    }
  })
}, { name: 'registry', dependencies: ['events'] })
