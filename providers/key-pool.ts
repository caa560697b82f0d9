// A provider's API keys (seed 001's rotator): least-recently-used first, a 429 cools a key
// down (for the upstream's retry-after when given, else escalating), a 401/403 takes it out
// for a long time. Keyless providers get one anonymous slot so that their 429s cool down too.
import { createHash } from 'node:crypto'

/** Cool-downs for repeated 429s without a retry-after: 10 s → 30 s → 60 s → 120 s. */
export const RATE_LIMIT_ESCALATION_MS = [10_000, 30_000, 60_000, 120_000]

interface KeySlot {
  key: string | undefined
  fingerprint: string
  lastUsedAt: number
  coolUntil: number
  reason: 'rate_limited' | 'auth' | undefined
  strikes: number
  uses: number
}

export interface KeyStatus {
  fingerprint: string
  state: 'available' | 'cooling_down' | 'disabled'
  availableInMs: number
  strikes: number
  uses: number
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

  constructor(keys: string[], authCooldownMs: number) {
    const all = keys.length > 0 ? keys : [undefined]
    this.#slots = all.map((key) => ({ key, fingerprint: fingerprint(key), lastUsedAt: 0, coolUntil: 0, reason: undefined, strikes: 0, uses: 0 }))
    this.#authCooldownMs = authCooldownMs
  }

  get size(): number {
    return this.#slots.length
  }

  /** The least recently used key that is not cooling down; undefined when none is. */
  acquire(now = Date.now()): { key: string | undefined } | undefined {
    let best: KeySlot | undefined
    for (const slot of this.#slots) {
      if (slot.coolUntil > now) continue
      if (!best || slot.lastUsedAt < best.lastUsedAt) best = slot
    }
    if (!best) return undefined
    best.lastUsedAt = now
    best.uses++
    return { key: best.key }
  }

  hasAvailable(now = Date.now()): boolean {
    return this.#slots.some((s) => s.coolUntil <= now)
  }

  /** When the first key becomes free again (now, if one is). */
  nextAvailableAt(now = Date.now()): number {
    return Math.max(now, Math.min(...this.#slots.map((s) => s.coolUntil)))
  }

  /**
   * Why no key can be leased now. A pool with a rate-limited key is cooling down (free again
   * when that key is); one whose every key was rejected (401/403) is out of service, which is
   * not a rate limit: the client must not be told to retry after an hour.
   */
  unavailable(now = Date.now()): { reason: 'rate_limited' | 'auth'; freeAt: number } | undefined {
    if (this.hasAvailable(now)) return undefined
    const limited = this.#slots.filter((s) => s.reason === 'rate_limited')
    const reason = limited.length > 0 ? 'rate_limited' : 'auth'
    const freeAt = Math.min(...(limited.length > 0 ? limited : this.#slots).map((s) => s.coolUntil))
    return { reason, freeAt }
  }

  /** Returns the cool-down applied, in ms. */
  rateLimited(key: string | undefined, retryAfterMs: number | undefined, now = Date.now()): number {
    const slot = this.#find(key)
    if (!slot) return 0
    const cooldown = retryAfterMs ?? RATE_LIMIT_ESCALATION_MS[Math.min(slot.strikes, RATE_LIMIT_ESCALATION_MS.length - 1)]
    slot.strikes++
    slot.coolUntil = now + cooldown
    slot.reason = 'rate_limited'
    return cooldown
  }

  /** Takes the key out; returns its fingerprint for the log, or undefined for a keyless provider. */
  authFailed(key: string | undefined, now = Date.now()): string | undefined {
    const slot = this.#find(key)
    if (!slot || slot.key === undefined) return undefined // a keyless provider has no key to take out
    slot.coolUntil = now + this.#authCooldownMs
    slot.reason = 'auth'
    return slot.fingerprint
  }

  succeeded(key: string | undefined): void {
    const slot = this.#find(key)
    if (slot) slot.strikes = 0
  }

  status(now = Date.now()): KeyStatus[] {
    return this.#slots.map((s) => ({
      fingerprint: s.fingerprint,
      state: s.coolUntil <= now ? 'available' : s.reason === 'auth' ? 'disabled' : 'cooling_down',
      availableInMs: Math.max(0, s.coolUntil - now),
      strikes: s.strikes,
      uses: s.uses,
    }))
  }

  #find(key: string | undefined): KeySlot | undefined {
    return this.#slots.find((s) => s.key === key)
  }
}
