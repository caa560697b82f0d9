// A Redis outage is logged once (and its end once), not once per request. Every Redis call is
// bounded by ioredis's own commandTimeout (REDIS_TIMEOUT_MS, set in plugins/redis.ts for the
// client and every duplicate of it): a request never waits on Redis longer than that.
import type { FastifyBaseLogger } from 'fastify'

/** Logs the first failure of an outage and the first success after it; silent in between. */
export class OutageLog {
  readonly #log: FastifyBaseLogger
  readonly #what: string
  #down = false

  constructor(log: FastifyBaseLogger, what: string) {
    this.#log = log
    this.#what = what
  }

  get down(): boolean {
    return this.#down
  }

  failed(err: unknown): void {
    if (this.#down) return
    this.#down = true
    this.#log.warn({ err: (err as Error).message }, `${this.#what}: redis unavailable, using local state`)
  }

  ok(): void {
    if (!this.#down) return
    this.#down = false
    this.#log.info(`${this.#what}: redis is back, sharing resumed`)
  }
}
