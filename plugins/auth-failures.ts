// Failed authentications counted per client IP (issue 9 item 13): past AUTH_FAILURE_LIMIT in
// one window the IP is refused before any key is compared, until the window ends — so key
// guessing costs a minute per AUTH_FAILURE_LIMIT guesses instead of running at line rate.
// Pure and in memory (per instance): a fixed window per IP, started by its first failure.

/** The window failures are counted in. */
export const AUTH_FAILURE_WINDOW_MS = 60_000
/** IPs tracked at once; the oldest window is forgotten first (memory stays bounded under a spray). */
export const MAX_TRACKED_AUTH_FAILURE_IPS = 10_000

interface Window {
  startedAt: number
  failures: number
}

export class AuthFailureLimiter {
  readonly #limit: number
  readonly #windowMs: number
  readonly #maxTracked: number
  readonly #windows = new Map<string, Window>()

  /** `limit` 0: never refuses. */
  constructor(limit: number, windowMs = AUTH_FAILURE_WINDOW_MS, maxTracked = MAX_TRACKED_AUTH_FAILURE_IPS) {
    this.#limit = limit
    this.#windowMs = windowMs
    this.#maxTracked = maxTracked
  }

  /** Milliseconds until this IP may try again; 0 when it may try now. */
  retryAfterMs(ip: string, now = Date.now()): number {
    if (this.#limit === 0) return 0
    const window = this.#live(ip, now)
    if (!window || window.failures < this.#limit) return 0
    return window.startedAt + this.#windowMs - now
  }

  /** One more failed authentication from this IP. */
  recordFailure(ip: string, now = Date.now()): void {
    if (this.#limit === 0) return
    const window = this.#live(ip, now)
    if (window) {
      window.failures++
      return
    }
    this.#windows.set(ip, { startedAt: now, failures: 1 })
    // A Map iterates in insertion order: the first entries are the oldest windows.
    for (const oldest of this.#windows.keys()) {
      if (this.#windows.size <= this.#maxTracked) break
      this.#windows.delete(oldest)
    }
  }

  get trackedIps(): number {
    return this.#windows.size
  }

  #live(ip: string, now: number): Window | undefined {
    const window = this.#windows.get(ip)
    if (window && now - window.startedAt >= this.#windowMs) {
      this.#windows.delete(ip)
      return undefined
    }
    return window
  }
}
