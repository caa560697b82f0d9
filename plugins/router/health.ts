// Recent behaviour of one provider: EWMA latency and error rate (to order a tier), and a
// window of first-byte latencies (for the adaptive first-byte timeout).
const EWMA_ALPHA = 0.2
const FIRST_BYTE_WINDOW = 50
const ADAPTIVE_MIN_SAMPLES = 10
const LATENCY_FLOOR_MS = 50
const P95_RECOMPUTE_EVERY = 5
/**
 * After this many attempts in a row abandoned at the adaptive limit, with no first chunk for
 * longer than that limit, one attempt at a time (a probe) gets the static limit.
 */
export const ADAPTIVE_GIVE_UP_AFTER = 3

export class ProviderHealth {
  latencyMs: number | undefined
  errorRate = 0
  successes = 0
  failures = 0
  lastError: { at: string; message: string } | undefined
  readonly #firstByte: number[] = []
  #next = 0
  #p95: number | undefined
  #samplesSinceP95 = 0
  #adaptiveTimeoutsInARow = 0
  #lastFirstByteAt = 0
  /** Until then a probe with the static limit is under way; no second one. */
  #probeUntil = 0

  recordSuccess(latencyMs: number): void {
    this.successes++
    this.latencyMs = this.latencyMs === undefined ? latencyMs : this.latencyMs + EWMA_ALPHA * (latencyMs - this.latencyMs)
    this.errorRate += EWMA_ALPHA * (0 - this.errorRate)
  }

  recordFailure(message: string): void {
    this.failures++
    this.errorRate += EWMA_ALPHA * (1 - this.errorRate)
    this.lastError = { at: new Date().toISOString(), message }
  }

  recordFirstByte(ms: number): void {
    this.#adaptiveTimeoutsInARow = 0
    this.#lastFirstByteAt = Date.now()
    this.#probeUntil = 0
    if (this.#firstByte.length < FIRST_BYTE_WINDOW) this.#firstByte.push(ms)
    else this.#firstByte[this.#next] = ms
    this.#next = (this.#next + 1) % FIRST_BYTE_WINDOW
    this.#samplesSinceP95++
  }

  /**
   * An attempt abandoned at the adaptive first-byte limit. Several in a row while no first
   * chunk arrived for longer than the limit suggest the provider is now slower rather than that
   * some requests hang: one attempt at a time then gets the static limit (a probe), and its
   * first chunk's time moves the p95 — else the provider would be cut at the old limit forever.
   * Only one, because under a burst hung requests time out together and first chunks lag:
   * that must not hand every request the static limit. The limit itself is not recorded as a
   * sample: a provider hanging on 5 % of its requests would ratchet its own p95 up to the max.
   */
  recordFirstByteTimeout(): void {
    this.#adaptiveTimeoutsInARow++
  }

  /** Recomputed every few samples, not on every request: it sorts the window. */
  firstByteP95(): number | undefined {
    if (this.#firstByte.length < ADAPTIVE_MIN_SAMPLES) return undefined
    if (this.#p95 === undefined || this.#samplesSinceP95 >= P95_RECOMPUTE_EVERY) {
      const sorted = [...this.#firstByte].sort((a, b) => a - b)
      this.#p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]
      this.#samplesSinceP95 = 0
    }
    return this.#p95
  }

  /**
   * Seed 001 §3.3: a provider that is suddenly far slower than usual is abandoned early.
   * p95 × factor, clamped to [min, configured max]; the max alone until enough samples exist.
   */
  adaptiveFirstByteMs(maxMs: number, minMs: number, factor: number, now = Date.now()): number {
    const p95 = this.firstByteP95()
    if (p95 === undefined || factor <= 0) return maxMs
    const limit = Math.min(maxMs, Math.max(minMs, Math.ceil(p95 * factor)))
    const slower = this.#adaptiveTimeoutsInARow >= ADAPTIVE_GIVE_UP_AFTER && now - this.#lastFirstByteAt > limit
    if (!slower || now < this.#probeUntil) return limit
    this.#probeUntil = now + maxMs
    return maxMs
  }

  /**
   * Lower is better: latency inflated by the error rate. Unknown latency scores as average.
   * Latencies under LATENCY_FLOOR_MS count as equal: a 3 ms vs 7 ms difference is noise, not
   * a reason to move all the traffic.
   */
  penalty(fallbackLatencyMs: number): number {
    return Math.max(LATENCY_FLOOR_MS, this.latencyMs ?? fallbackLatencyMs) * (1 + 4 * this.errorRate)
  }

  snapshot() {
    return {
      latencyMs: this.latencyMs === undefined ? null : Math.round(this.latencyMs),
      errorRate: Number(this.errorRate.toFixed(3)),
      firstByteP95Ms: this.firstByteP95() ?? null,
      successes: this.successes,
      failures: this.failures,
      lastError: this.lastError ?? null,
    }
  }
}
