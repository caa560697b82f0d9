// Decorates `app.providers`: register/get/list providers. For each registered provider it
// owns its breakers (one per model and one for the whole provider: plugins/state/breakers.ts),
// a key pool and health stats (discovery is plugins/discovery.ts), and closes them all when
// the app closes. Health changes are published on `app.providerState` (decorated here when nobody did
// it before) and remote ones applied through it. Depends on `events` (breaker transitions).
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Provider } from '../providers/contract.ts'
import type { ProviderSettings } from '../config.ts'
import { KeyPool } from '../providers/key-pool.ts'
import { ProviderHealth } from './router/health.ts'
import { ProviderBreakers, breakerState, type Breaker, type BreakerState } from './state/breakers.ts'
import { createProviderState } from './state/provider-state.ts'

export { breakerState, type BreakerState }

export interface ProviderEntry {
  readonly name: string
  readonly tier: number
  readonly provider: Provider
  readonly settings: ProviderSettings
  /** The whole-provider breaker: open when the provider cannot be reached (every model out). */
  readonly breaker: Breaker
  /** Per-model breakers inside the provider one. */
  readonly breakers: ProviderBreakers
  readonly keys: KeyPool
  readonly health: ProviderHealth
  lastRefreshAt: string | undefined
}

export interface ProviderRegistry {
  register(provider: Provider, settings: ProviderSettings): ProviderEntry
  get(name: string): ProviderEntry | undefined
  list(): ProviderEntry[]
  has(name: string): boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    providers: ProviderRegistry
  }
}

export default fp(async function registry(app: FastifyInstance) {
  const entries = new Map<string, ProviderEntry>()
  const { breaker: breakerConfig, resilience } = app.config
  // MAX_KEY_COOLDOWN_MS (issue 9 item 9) caps every cool-down once config declares it.
  const maxKeyCooldownMs = (resilience as { maxKeyCooldownMs?: number }).maxKeyCooldownMs || Number.POSITIVE_INFINITY
  if (!app.hasDecorator('providerState')) {
    app.decorate('providerState', createProviderState((err) => app.log.warn({ err }, 'a provider-state subscriber threw; ignored')))
  }

  const providers: ProviderRegistry = {
    register(provider, settings) {
      if (entries.has(provider.name)) throw new Error(`provider ${provider.name} registered twice`)
      const breakers = new ProviderBreakers(provider.name, breakerConfig, settings.apiKeys.length > 0, ({ model, state }) => {
        const where = { provider: provider.name, model }
        if (state === 'open') app.log.warn(where, 'circuit breaker opened')
        if (state === 'closed') app.log.info(where, 'circuit breaker closed')
        app.events.emit('breaker', { ...where, state })
        if (state !== 'half_open') {
          const untilMs = state === 'open' ? Date.now() + breakerConfig.resetTimeoutMs : undefined
          app.providerState.publish({ type: 'breaker', ...where, state, untilMs })
        }
      })
      const keys = new KeyPool(settings.apiKeys, resilience.keyAuthCooldownMs, maxKeyCooldownMs)
      keys.onChange = (change) => app.providerState.publish({ type: 'cooldown', provider: provider.name, ...change })
      app.providerState.attach(provider.name, {
        applyCooldown: (e) => keys.applyCooldown(e),
        applyBreaker: (e) => breakers.apply(e.model, e.state, e.state === 'open' ? e.untilMs : undefined),
      })
      const entry: ProviderEntry = {
        name: provider.name,
        tier: settings.tier,
        provider,
        settings,
        breaker: breakers.provider,
        breakers,
        keys,
        health: new ProviderHealth(),
        lastRefreshAt: undefined,
      }
      entries.set(provider.name, entry)
      return entry
    },
    get: (name) => entries.get(name),
    has: (name) => entries.has(name),
    list: () => [...entries.values()],
  }
  app.decorate('providers', providers)

  // Catalog discovery (start-up, interval, back-off, on demand) is plugins/discovery.ts.
  app.addHook('onClose', async () => {
    for (const entry of entries.values()) {
      entry.breakers.shutdown()
      await entry.provider.close?.()
    }
  })
}, { name: 'registry', dependencies: ['events'] })
