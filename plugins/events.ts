// Decorates `app.events`: what happened on the data path, for metrics, status, traces and logs
// to subscribe to without the router knowing who listens. Scoped to one app instance.
//
// Publishing can never break the data path (issue 9 item 8, DESIGN "Observers"): a bare
// EventEmitter runs listeners inside emit(), so a throwing metrics listener turned a valid
// answer into a 500 or cut a stream. Here each listener runs in its own try/catch (and an
// async one's rejection is caught too); a failure is logged with the event name and ignored.
import fp from 'fastify-plugin'
import type { FaultKind } from '../providers/upstream-error.ts'
import type { Usage } from '../providers/contract.ts'

export interface AttemptEvent {
  requestId: string
  provider: string
  tier: number
  model: string
  operation: 'chat' | 'embed'
  stream: boolean
  outcome: 'success' | FaultKind
  latencyMs: number
  /** Stream: time to the first chunk; non-stream: time to the whole answer. */
  firstByteMs: number | undefined
}

export interface RoutedEvent {
  requestId: string
  operation: 'chat' | 'embed'
  model: string
  outcome: 'success' | 'client_error' | 'failed'
  provider: string | undefined
  tier: number | undefined
  /** The tier of the first candidate, tried or skipped, to count fallbacks between tiers. */
  firstTier: number | undefined
  attempts: number
  /** Some candidate was skipped (open breaker, cannot serve, no free key) or failed first. */
  fallback: boolean
}

export interface StreamEndEvent {
  requestId: string
  provider: string
  tier: number
  outcome: 'complete' | 'failed' | 'aborted'
  usage: Usage | undefined
  /** From the start of the attempt to the end of the stream. */
  durationMs: number
}

export interface UsageEvent {
  provider: string
  tier: number
  usage: Usage
}

/** A client went over RATE_LIMIT_MAX (the request was answered 429). */
export interface RateLimitedEvent {
  route: string
}

export interface BreakerEvent {
  provider: string
  /** The model whose breaker changed; '*' = the whole provider (unreachable). */
  model?: string
  state: 'open' | 'half_open' | 'closed'
}

/** A committed stream failed and was continued on another candidate (or could not be). */
export interface ResumeEvent {
  requestId: string
  /** provider/model of the leg that failed, and of the one that continued. */
  from: string
  to: string | undefined
  strategy: 'prefill' | 'instruction' | undefined
  outcome: 'resumed' | 'failed'
}

/** A request affinity could pin (AFFINITY_TTL_MS): no pin yet, its pin followed, or moved off it (health won). */
export interface AffinityEvent {
  result: 'none' | 'followed' | 'moved'
}

export interface GatewayEvents {
  affinity: [AffinityEvent]
  attempt: [AttemptEvent]
  routed: [RoutedEvent]
  stream_end: [StreamEndEvent]
  usage: [UsageEvent]
  breaker: [BreakerEvent]
  resume: [ResumeEvent]
  rate_limited: [RateLimitedEvent]
}

type Listener<Args extends unknown[]> = (...args: Args) => unknown

/** The EventEmitter subset subscribers use (on/once/off/emit), with guarded listeners. */
export class GatewayEventBus<Events extends { [K in keyof Events]: unknown[] }> {
  readonly #listeners = new Map<keyof Events, Array<{ fn: Listener<any>; once: boolean }>>()
  readonly #onError: (err: unknown, event: string) => void

  constructor(onError: (err: unknown, event: string) => void) {
    this.#onError = onError
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    this.#add(event, listener, false)
    return this
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    this.#add(event, listener, true)
    return this
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const list = this.#listeners.get(event)
    const at = list?.findIndex((l) => l.fn === listener) ?? -1
    // A copy, so that an emit already iterating the old list is not disturbed.
    if (list && at >= 0) this.#listeners.set(event, [...list.slice(0, at), ...list.slice(at + 1)])
    return this
  }

  removeListener<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    return this.off(event, listener)
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.length ?? 0
  }

  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.#listeners.clear()
    else this.#listeners.delete(event)
    return this
  }

  /** Calls every listener; none can throw into the caller. True when someone listened. */
  emit<K extends keyof Events>(event: K, ...args: Events[K]): boolean {
    const list = this.#listeners.get(event)
    if (!list || list.length === 0) return false
    for (const entry of list) {
      if (entry.once) this.off(event, entry.fn)
      try {
        const result = entry.fn(...args)
        if (result instanceof Promise) result.catch((err) => this.#onError(err, String(event)))
      } catch (err) {
        this.#onError(err, String(event))
      }
    }
    return true
  }

  #add<K extends keyof Events>(event: K, fn: Listener<Events[K]>, once: boolean): void {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), { fn, once }])
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    events: GatewayEventBus<GatewayEvents>
  }
}

export default fp(async function events(app) {
  const bus = new GatewayEventBus<GatewayEvents>((err, event) => {
    app.log.error({ err, event }, 'an event subscriber threw; ignored (the request is not affected)')
  })
  app.decorate('events', bus)
  app.addHook('onClose', async () => bus.removeAllListeners())
}, { name: 'events' })
