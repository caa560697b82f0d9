// Every Redis call FLEET makes is bounded: a request never waits on Redis longer than
// REDIS_TIMEOUT_MS, and an outage is logged once (and its end once), not once per request.
import type { FastifyBaseLogger } from 'fastify'

export class RedisDeadlineError extends Error {
  constructor(ms: number) {
    super(`redis did not answer within ${ms} ms`)
    this.name = 'RedisDeadlineError'
  }
}

/** `promise`, or a RedisDeadlineError after `ms` (the command itself may still finish later). */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisDeadlineError(ms)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

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
