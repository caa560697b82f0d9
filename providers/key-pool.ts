// A provider's API keys (seed 001's rotator): least-recently-used first. A 429 cools a key for
// one model only (providers rate-limit per model and organisation: a 429 on one model says
// nothing about the others), for the upstream's retry-after when given, else escalating; a
// 401/403 takes the key out for every model. Keyless providers get one anonymous slot so that
// their 429s cool down too. Changes are reported to `onChange` (fleet-wide sync), and
// `applyCooldown` merges a change seen elsewhere (the later deadline wins).
import { createHash } from 'node:crypto'

/** Cool-downs for repeated 429s without a retry-after: 10 s → 30 s → 60 s → 120 s. */
export const RATE_LIMIT_ESCALATION_MS = [10_000, 30_000, 60_000, 120_000]
/**
 * A 429 that says "retry now" (0, a past date, `0s`) still cools the key this long: never hammer
 * it. A wait the upstream did name (`retry-after-ms: 300`) is kept as named: it knows its window.
 */
export const MIN_RATE_LIMIT_COOLDOWN_MS = 1_000
/** Per key, cool-downs for at most this many models are kept (a catch-all provider sees any name). */
export const MAX_MODEL_COOLDOWNS_PER_KEY = 256

interface ModelCooldown {
  until: number
  strikes: number
}

interface KeySlot {
  key: string | undefined
  fingerprint: string
  lastUsedAt: number
  uses: number
  /** 401/403: out for every model until then. */
  authUntil: number
  /** 429: out for that model until then. */
  cooldowns: Map<string, ModelCooldown>
}

export interface KeyStatus {
  fingerprint: string
  state: 'available' | 'cooling_down' | 'disabled'
  /** The longest wait left on this key (any model). */
  availableInMs: number
  strikes: number
  uses: number
  /** Models this key is cooling down for. */
  models: Array<{ model: string; availableInMs: number; strikes: number }>
}

export interface CooldownChange {
  key: string
  model: string // '*' = every model
  untilMs: number
  reason: 'rate_limited' | 'auth'
}

/**
 * Never the key, nor any of its characters: a hash only (issue 9 item 2 — the last four
 * characters would complete a prefix leaked by a cut message). Same form as redact.ts's keyFingerprint.
 */
export function fingerprint(key: string | undefined): string {
  if (key === undefined) return 'anonymous'
  return createHash('sha256').update(key).digest('hex').slice(0, 12)
}

export class KeyPool {
  readonly #slots: KeySlot[]
  readonly #authCooldownMs: number
  readonly #maxCooldownMs: number
  onChange: ((change: CooldownChange) => void) | undefined

  constructor(keys: string[], authCooldownMs: number, maxCooldownMs = Number.POSITIVE_INFINITY) {
    const all = keys.length > 0 ? keys : [undefined]
    this.#slots = all.map((key) => ({ key, fingerprint: fingerprint(key), lastUsedAt: 0, uses: 0, authUntil: 0, cooldowns: new Map() }))
    this.#authCooldownMs = authCooldownMs
    this.#maxCooldownMs = maxCooldownMs
  }

  get size(): number {
    return this.#slots.length
  }

  /** When this slot can serve `model` again (now or earlier = it can). */
  #freeAt(slot: KeySlot, model: string): number {
    return Math.max(slot.authUntil, slot.cooldowns.get(model)?.until ?? 0)
  }

  /**
   * The least recently used key free for `model`; `prefer` (a fingerprint, from affinity) first
   * when it is free. Undefined when none is.
   */
  acquire(model: string, options: { prefer?: string; now?: number } = {}): { key: string | undefined; fingerprint: string } | undefined {
    const now = options.now ?? Date.now()
    let best: KeySlot | undefined
    for (const slot of this.#slots) {
      if (this.#freeAt(slot, model) > now) continue
      if (slot.fingerprint === options.prefer) {
        best = slot
        break
      }
      if (!best || slot.lastUsedAt < best.lastUsedAt) best = slot
    }
    if (!best) return undefined
    best.lastUsedAt = now
    best.uses++
    return { key: best.key, fingerprint: best.fingerprint }
  }

  /**
   * A key for a call that serves no model (catalog discovery): the least recently used one not
   * taken out by a 401/403 — model cool-downs do not apply. Report a rejection with authFailed().
   */
  acquireForDiscovery(now = Date.now()): { key: string | undefined; fingerprint: string } | undefined {
    const usable = this.#slots.filter((s) => s.authUntil <= now)
    if (usable.length === 0) return undefined
    const best = usable.reduce((a, b) => (b.lastUsedAt < a.lastUsedAt ? b : a))
    best.lastUsedAt = now
    return { key: best.key, fingerprint: best.fingerprint }
  }

  hasAvailable(model: string, now = Date.now()): boolean {
    return this.#slots.some((s) => this.#freeAt(s, model) <= now)
  }

  /**
   * Why no key can serve `model` now. Cooling down after a 429 (free again when the first such
   * key is), or every key rejected (401/403): out of service, which is not a rate limit — the
   * client must not be told to retry after an hour.
   */
  unavailable(model: string, now = Date.now()): { reason: 'rate_limited' | 'auth'; freeAt: number } | undefined {
    if (this.hasAvailable(model, now)) return undefined
    const limited = this.#slots.filter((s) => s.authUntil <= now)
    const reason = limited.length > 0 ? 'rate_limited' : 'auth'
    const freeAt = Math.min(...(limited.length > 0 ? limited : this.#slots).map((s) => this.#freeAt(s, model)))
    return { reason, freeAt }
  }

  /** A 429 on `model`: that key cools for that model. Returns the cool-down applied, in ms. */
  rateLimited(key: string | undefined, model: string, retryAfterMs: number | undefined, now = Date.now()): number {
    const slot = this.#find(key)
    if (!slot) return 0
    const cooldown = slot.cooldowns.get(model) ?? { until: 0, strikes: 0 }
    const ladder = RATE_LIMIT_ESCALATION_MS[Math.min(cooldown.strikes, RATE_LIMIT_ESCALATION_MS.length - 1)]
    const asked = retryAfterMs === undefined ? ladder : retryAfterMs > 0 ? retryAfterMs : MIN_RATE_LIMIT_COOLDOWN_MS
    const ms = Math.min(this.#maxCooldownMs, asked)
    cooldown.strikes++
    cooldown.until = now + ms
    this.#setCooldown(slot, model, cooldown, now)
    this.onChange?.({ key: slot.fingerprint, model, untilMs: cooldown.until, reason: 'rate_limited' })
    return ms
  }

  /** Takes the key out for every model; returns its fingerprint for the log, or undefined for a keyless provider. */
  authFailed(key: string | undefined, now = Date.now()): string | undefined {
    const slot = this.#find(key)
    if (!slot || slot.key === undefined) return undefined // a keyless provider has no key to take out
    slot.authUntil = now + this.#authCooldownMs
    this.onChange?.({ key: slot.fingerprint, model: '*', untilMs: slot.authUntil, reason: 'auth' })
    return slot.fingerprint
  }

  succeeded(key: string | undefined, model: string): void {
    const cooldown = this.#find(key)?.cooldowns.get(model)
    if (cooldown) cooldown.strikes = 0
  }

  /** A cool-down seen on another instance: merged, the later deadline wins; never re-reported. */
  applyCooldown(change: CooldownChange, now = Date.now()): void {
    const slot = this.#slots.find((s) => s.fingerprint === change.key)
    if (!slot) return
    if (change.model === '*' || change.reason === 'auth') {
      slot.authUntil = Math.max(slot.authUntil, change.untilMs)
      return
    }
    const cooldown = slot.cooldowns.get(change.model) ?? { until: 0, strikes: 0 }
    cooldown.until = Math.max(cooldown.until, change.untilMs)
    this.#setCooldown(slot, change.model, cooldown, now)
  }

  status(now = Date.now()): KeyStatus[] {
    return this.#slots.map((s) => {
      const models = [...s.cooldowns].filter(([, c]) => c.until > now).map(([model, c]) => ({ model, availableInMs: c.until - now, strikes: c.strikes }))
      const longest = Math.max(s.authUntil - now, ...models.map((m) => m.availableInMs), 0)
      const state = s.authUntil > now ? 'disabled' : models.length > 0 ? 'cooling_down' : 'available'
      return {
        fingerprint: s.fingerprint,
        state,
        availableInMs: longest,
        strikes: Math.max(0, ...[...s.cooldowns.values()].map((c) => c.strikes)),
        uses: s.uses,
        models,
      }
    })
  }

  /** Keeps the per-key map bounded: expired cool-downs without strikes go first, then the soonest to expire. */
  #setCooldown(slot: KeySlot, model: string, cooldown: ModelCooldown, now: number): void {
    slot.cooldowns.delete(model)
    slot.cooldowns.set(model, cooldown)
    if (slot.cooldowns.size <= MAX_MODEL_COOLDOWNS_PER_KEY) return
    for (const [name, c] of slot.cooldowns) {
      if (c.until <= now && c.strikes === 0) slot.cooldowns.delete(name)
    }
    while (slot.cooldowns.size > MAX_MODEL_COOLDOWNS_PER_KEY) {
      const soonest = [...slot.cooldowns].reduce((a, b) => (b[1].until < a[1].until ? b : a))
      slot.cooldowns.delete(soonest[0])
    }
  }

  #find(key: string | undefined): KeySlot | undefined {
    return this.#slots.find((s) => s.key === key)
  }
}
