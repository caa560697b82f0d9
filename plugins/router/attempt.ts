// One upstream attempt's lifetime: its own AbortController (never shared between requests:
// opossum's shared abortController would cancel every in-flight call of a provider), linked
// to the client's signal, with the total and first-byte timers that abort it.
import { UpstreamError } from '../../providers/upstream-error.ts'

export class Attempt {
  readonly controller = new AbortController()
  readonly startedAt = performance.now()
  readonly #clientSignal: AbortSignal
  readonly #totalTimer: NodeJS.Timeout
  #firstByteTimer: NodeJS.Timeout | undefined
  #commitTimer: NodeJS.Timeout | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #idleMs = 0
  /** When the current wait for an upstream chunk began; undefined while the client reads. */
  #waitingSince: number | undefined
  /** Set when this attempt was abandoned by its first-byte limit (adaptive timeout bookkeeping). */
  firstByteTimedOut = false

  constructor(clientSignal: AbortSignal, totalMs: number) {
    this.#clientSignal = clientSignal
    if (clientSignal.aborted) this.#onClientAbort()
    else clientSignal.addEventListener('abort', this.#onClientAbort, { once: true })
    this.#totalTimer = setTimeout(
      () => this.abort(new UpstreamError('timeout', `no complete answer within ${totalMs} ms (total timeout)`)),
      totalMs,
    )
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  get clientLeft(): boolean {
    return this.#clientSignal.aborted
  }

  abort(reason: UpstreamError): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason)
  }

  /** Streams: the first chunk must arrive within `ms`, or the attempt is abandoned. */
  armFirstByte(ms: number): void {
    this.#firstByteTimer = setTimeout(() => {
      this.firstByteTimedOut = true
      this.abort(new UpstreamError('timeout', `no first chunk within ${ms} ms (first-byte timeout)`))
    }, ms)
  }

  disarmFirstByte(): void {
    clearTimeout(this.#firstByteTimer)
  }

  /**
   * BREAKER_TIMEOUT_MS: the call must reach its commit point (a whole JSON answer, a stream's
   * first content chunk) within `ms`. Kept here, not as opossum's own timeout, which would run
   * over the whole call and so cut every stream longer than it.
   */
  armCommitDeadline(ms: number): void {
    if (ms <= 0) return
    this.#commitTimer = setTimeout(() => this.abort(new UpstreamError('timeout', 'breaker timeout (BREAKER_TIMEOUT_MS)')), ms)
  }

  disarmCommitDeadline(): void {
    clearTimeout(this.#commitTimer)
  }

  /**
   * Streams after the first chunk: the next chunk must arrive within `ms`. Kept here rather
   * than as undici's bodyTimeout, which also runs between the headers and the first chunk
   * and would cut a slow-to-think model before its first-byte limit.
   * Called around every chunk, so it only notes the time: one timer per attempt checks it,
   * instead of a timer set and cleared per chunk.
   */
  armIdle(ms: number): void {
    this.#waitingSince = performance.now()
    if (this.#idleTimer) return
    this.#idleMs = ms
    this.#idleTimer = setTimeout(this.#checkIdle, ms)
  }

  disarmIdle(): void {
    this.#waitingSince = undefined
  }

  #checkIdle = (): void => {
    const waitedMs = this.#waitingSince === undefined ? 0 : performance.now() - this.#waitingSince
    if (waitedMs >= this.#idleMs) {
      this.abort(new UpstreamError('timeout', `no chunk for ${this.#idleMs} ms mid-stream (idle timeout)`))
      return
    }
    this.#idleTimer = setTimeout(this.#checkIdle, this.#idleMs - waitedMs)
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt
  }

  /** Stop the timers and unlink from the client; the attempt is over. */
  release(): void {
    clearTimeout(this.#totalTimer)
    clearTimeout(this.#firstByteTimer)
    clearTimeout(this.#commitTimer)
    clearTimeout(this.#idleTimer)
    this.#clientSignal.removeEventListener('abort', this.#onClientAbort)
  }

  #onClientAbort = (): void => {
    this.abort(new UpstreamError('aborted', 'the client closed the request'))
  }
}
