// Decorates `app.providerState`: the provider health changes of this instance (key cool-downs
// per key and model, breaker transitions per provider and model) as HealthEvents, for FLEET's
// Redis sync to publish, and `apply` to merge a change seen on another instance. The state
// itself lives in memory, in each provider's KeyPool and ProviderBreakers (plugins/registry.ts),
// so reads on the request path stay synchronous and local: no request waits on Redis.
// Depends on nothing; registry attaches each provider here as it registers it.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

export type HealthEvent =
  | {
    type: 'cooldown'
    provider: string
    /** '*' = all models (401/403). */
    model: string
    /** Key fingerprint, 'anonymous' when keyless. */
    key: string
    /** Epoch ms. */
    untilMs: number
    reason: 'rate_limited' | 'auth'
  }
  | {
    type: 'breaker'
    provider: string
    /** '*' = the whole provider. */
    model: string
    state: 'open' | 'closed'
    /** Open: when a half-open trial may start (epoch ms). */
    untilMs?: number
  }

/** What a provider offers to have remote changes applied to it. */
export interface HealthTarget {
  applyCooldown(e: Extract<HealthEvent, { type: 'cooldown' }>): void
  applyBreaker(e: Extract<HealthEvent, { type: 'breaker' }>): void
}

export interface ProviderState {
  /** Local changes only; returns the unsubscribe function. */
  subscribe(listener: (e: HealthEvent) => void): () => void
  /** Merge a change seen on another instance (the later deadline wins); never re-published. */
  apply(e: HealthEvent): void
  /** Local side: a key pool or breaker changed. */
  publish(e: HealthEvent): void
  /** Registry side: where events for `provider` are applied. */
  attach(provider: string, target: HealthTarget): void
}

declare module 'fastify' {
  interface FastifyInstance {
    providerState: ProviderState
  }
}

export function createProviderState(onListenerError: (err: unknown) => void = () => undefined): ProviderState {
  const listeners = new Set<(e: HealthEvent) => void>()
  const targets = new Map<string, HealthTarget>()
  // Set while a remote change is applied: the transitions it causes locally are not news.
  let applying = false
  return {
    subscribe(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    apply(e) {
      const target = targets.get(e.provider)
      if (!target) return
      applying = true
      try {
        if (e.type === 'cooldown') target.applyCooldown(e)
        else target.applyBreaker(e)
      } finally {
        applying = false
      }
    },
    publish(e) {
      if (applying) return
      for (const listener of listeners) {
        // A subscriber (the Redis sync) must never be felt by the request that caused the change.
        try {
          listener(e)
        } catch (err) {
          onListenerError(err)
        }
      }
    },
    attach(provider, target) {
      targets.set(provider, target)
    },
  }
}

export default fp(async function providerState(app: FastifyInstance) {
  app.decorate('providerState', createProviderState((err) => app.log.warn({ err }, 'a provider-state subscriber threw; ignored')))
}, { name: 'provider-state' })
