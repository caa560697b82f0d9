// Breaker policy: one opossum breaker per provider *and model*, plus one for the whole provider.
// Providers fail per model (a model withdrawn, overloaded or misconfigured), so one model's
// faults must not take the provider's other models down, and a half-open trial must be made on
// the model that failed. A provider that cannot be reached at all (refused, DNS, TLS, connect
// timeout) is one fault for every model: that counts on the provider-wide breaker only.
// Model breakers are created lazily and bounded in number (a catch-all provider sees any name).
import CircuitBreaker from 'opossum'
import type { Config } from '../../config.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import { isUnreachable } from '../router/decide.ts'

export type BreakerState = 'closed' | 'half_open' | 'open'
export type Breaker = CircuitBreaker<[() => Promise<unknown>], unknown>

/** Per provider, at most this many model breakers; the least recently used closed one goes first. */
export const MAX_MODEL_BREAKERS = 128

export function breakerState(breaker: CircuitBreaker): BreakerState {
  if (breaker.opened) return 'open'
  if (breaker.halfOpen) return 'half_open'
  return 'closed'
}

const RANK: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 }
const worstState = (a: BreakerState, b: BreakerState): BreakerState => (RANK[a] >= RANK[b] ? a : b)

/**
 * Faults that say nothing about this model's health: the client's own, what the provider
 * cannot do, the key-level ones the key pool handles (a 429 cools that key for that model; a
 * 401/403 takes the key out while others serve — a keyless provider answering 401 is failing),
 * the gateway's own resource exhaustion, and an unreachable provider (the provider breaker's).
 */
function neutralForModel(err: unknown, keyed: boolean): boolean {
  if ((err as { code?: string }).code === 'EOPENBREAKER') return true // refused by the provider breaker: no call was made
  if (!(err instanceof UpstreamError)) return false
  if (err.isClientFault || err.kind === 'unsupported' || err.kind === 'cooling_down' || err.kind === 'rate_limited' || err.kind === 'local_resource') return true
  if (keyed && err.kind === 'auth') return true
  return isUnreachable(err)
}

/** The provider breaker counts only faults of the whole provider: it could not be reached. */
function neutralForProvider(err: unknown): boolean {
  return !(err instanceof UpstreamError && isUnreachable(err))
}

export type BreakerTransition = { model: string; state: BreakerState }

export class ProviderBreakers {
  readonly name: string
  /** The whole provider (unreachable = every model out). '*' in events. */
  readonly provider: Breaker
  /**
   * Each model's breaker, stamped with its last use (a count of uses) for eviction. Stamped
   * rather than kept as Map order: moving a key to the end of a Map on every call (delete + set)
   * made the Map rehash as its deleted entries piled up — two allocations a call (issue 14).
   */
  readonly #models = new Map<string, { breaker: Breaker; usedAt: number }>()
  #uses = 0
  readonly #options: ConstructorParameters<typeof CircuitBreaker>[1]
  readonly #keyed: boolean
  readonly #onTransition: (t: BreakerTransition) => void

  constructor(name: string, breaker: Config['breaker'], keyed: boolean, onTransition: (t: BreakerTransition) => void) {
    this.name = name
    this.#keyed = keyed
    this.#onTransition = onTransition
    this.#options = {
      // Off: the layered timeouts bound every attempt, and BREAKER_TIMEOUT_MS is applied by the
      // router before commit (a breaker timeout on the whole call would cut long streams).
      timeout: false,
      errorThresholdPercentage: breaker.errorThresholdPercentage,
      resetTimeout: breaker.resetTimeoutMs,
      volumeThreshold: breaker.volumeThreshold,
      rollingCountTimeout: breaker.rollingWindowMs,
      rollingCountBuckets: 10,
      // Nothing listens to opossum's 'snapshot' event, and each one sums the window and sorts
      // every latency in it, on a timer per breaker: ~1 % of the gateway's CPU under load (issue 14).
      enableSnapshots: false,
      // Nor are its latency percentiles used (ProviderHealth keeps the latency routing reads).
      // With them on, every call's latency stays in the window, and every failure reads the
      // window's stats to decide whether to open — which concatenates and sorts all of them: a
      // provider failing under load paid a sort of every call of the last BREAKER_ROLLING_WINDOW_MS per
      // failure, a third of the gateway's CPU when each stream was cut and resumed.
      rollingPercentilesEnabled: false,
    }
    this.provider = this.#create('*', neutralForProvider)
  }

  #create(model: string, errorFilter: (err: unknown) => boolean): Breaker {
    const breaker: Breaker = new CircuitBreaker((thunk: () => Promise<unknown>) => thunk(), { ...this.#options, name: `${this.name}/${model}`, errorFilter })
    breaker.on('open', () => this.#onTransition({ model, state: 'open' }))
    breaker.on('halfOpen', () => this.#onTransition({ model, state: 'half_open' }))
    breaker.on('close', () => this.#onTransition({ model, state: 'closed' }))
    return breaker
  }

  /** The breaker of one model, created on first use. */
  forModel(model: string): Breaker {
    const known = this.#models.get(model)
    if (known) {
      known.usedAt = ++this.#uses
      return known.breaker
    }
    const breaker = this.#create(model, (err) => neutralForModel(err, this.#keyed))
    this.#models.set(model, { breaker, usedAt: ++this.#uses })
    if (this.#models.size > MAX_MODEL_BREAKERS) this.#evict()
    return breaker
  }

  /** The least recently used closed breaker goes, else the least recently used one. */
  #evict(): void {
    let victim: string | undefined
    let victimClosed = false
    let victimUsedAt = Infinity
    for (const [model, { breaker, usedAt }] of this.#models) {
      const closed = breakerState(breaker) === 'closed'
      if ((closed && !victimClosed) || (closed === victimClosed && usedAt < victimUsedAt)) {
        victim = model
        victimClosed = closed
        victimUsedAt = usedAt
      }
    }
    if (victim === undefined) return
    this.#models.get(victim)!.breaker.shutdown()
    this.#models.delete(victim)
  }

  /** Without creating one: a model never seen is closed. */
  stateFor(model: string): BreakerState {
    const model_ = this.#models.get(model)?.breaker
    return worstState(breakerState(this.provider), model_ ? breakerState(model_) : 'closed')
  }

  /**
   * The provider as one state, for the status page and readiness: the provider breaker when it
   * is not closed; else, when every model breaker it has is not closed, the least bad of them
   * (nothing it was asked for can be served); else closed.
   */
  summary(): BreakerState {
    const own = breakerState(this.provider)
    if (own !== 'closed' || this.#models.size === 0) return own
    const states = [...this.#models.values()].map((m) => breakerState(m.breaker))
    if (states.includes('closed')) return 'closed'
    return states.includes('half_open') ? 'half_open' : 'open'
  }

  /** Runs `thunk` through the provider breaker inside the model's. */
  fire<T>(model: string, thunk: () => Promise<T>): Promise<T> {
    return this.forModel(model).fire(() => this.provider.fire(thunk)) as Promise<T>
  }

  /**
   * Merges a state seen on another instance ('*' = the provider breaker). An open one stays open
   * until the deadline that instance set (`untilMs`), not for a full local reset timeout from now:
   * the fleet's breakers half-open together. A deadline already past changes nothing.
   */
  apply(model: string, state: 'open' | 'closed', untilMs?: number, now = Date.now()): void {
    const breaker = model === '*' ? this.provider : this.forModel(model)
    if (state === 'closed') return void breaker.close()
    const remainingMs = untilMs === undefined || !Number.isFinite(untilMs) ? undefined : Math.round(untilMs - now)
    if (remainingMs !== undefined && remainingMs <= 0) return
    // opossum arms its half-open timer from `options.resetTimeout` inside open(), synchronously
    // (a public property at run time that @types/opossum leaves out).
    const options = (breaker as unknown as { options: { resetTimeout: number } }).options
    const configured = options.resetTimeout
    if (remainingMs !== undefined) options.resetTimeout = Math.min(configured, remainingMs)
    try {
      breaker.open()
    } finally {
      options.resetTimeout = configured
    }
  }

  /**
   * opossum's counters for the provider as a whole. Every call that reaches the upstream goes
   * through the provider breaker, which sees a model's fault as neutral (a success) and a model
   * breaker's refusal not at all; the model breakers see the provider's refusals as neutral.
   */
  stats(): { fires: number; successes: number; failures: number; rejects: number; timeouts: number } {
    const own = this.provider.stats
    const models = [...this.#models.values()].map((m) => m.breaker.stats)
    const sum = (pick: (s: typeof own) => number) => models.reduce((n, s) => n + pick(s), 0)
    const modelFailures = sum((s) => s.failures)
    const modelRejects = sum((s) => s.rejects)
    return {
      fires: own.fires + modelRejects,
      successes: Math.max(0, own.successes - modelFailures),
      failures: own.failures + modelFailures,
      rejects: own.rejects + modelRejects,
      timeouts: own.timeouts + sum((s) => s.timeouts),
    }
  }

  snapshot(): Array<{ model: string; state: BreakerState; failures: number; fires: number }> {
    return [...this.#models].map(([model, { breaker: b }]) => ({ model, state: breakerState(b), failures: b.stats.failures, fires: b.stats.fires }))
  }

  shutdown(): void {
    this.provider.shutdown()
    for (const m of this.#models.values()) m.breaker.shutdown()
    this.#models.clear()
  }
}
