// A bounded admission queue for the local model: `slots` requests generate at once (one
// context sequence each), up to `queueMax` wait in order, and one more is refused at once —
// a local model that is busy should let the router try the next provider, not make the
// client wait behind a long line. A waiter whose client leaves is removed from the line.

export class BusyError extends Error {
  readonly active: number
  readonly waiting: number

  constructor(active: number, waiting: number) {
    super(`busy: ${active} generating, ${waiting} waiting (LOCAL_MAX_CONCURRENCY, LOCAL_QUEUE_MAX)`)
    this.name = 'BusyError'
    this.active = active
    this.waiting = waiting
  }
}

interface Waiter {
  grant: (release: () => void) => void
  fail: (err: unknown) => void
}

export class SlotQueue {
  private active = 0
  private readonly waiters: Waiter[] = []
  private readonly slots: number
  private readonly queueMax: number

  constructor(slots: number, queueMax: number) {
    this.slots = slots
    this.queueMax = queueMax
  }

  get state() {
    return { active: this.active, waiting: this.waiters.length, slots: this.slots, queueMax: this.queueMax }
  }

  /** Resolves with the slot's release function; rejects with BusyError, or the signal's reason. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason)
    if (this.active < this.slots) {
      this.active++
      return Promise.resolve(this.releaser())
    }
    if (this.waiters.length >= this.queueMax) return Promise.reject(new BusyError(this.active, this.waiters.length))
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => { signal.removeEventListener('abort', onAbort); resolve(release) },
        fail: reject,
      }
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter)
        if (at >= 0) this.waiters.splice(at, 1)
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Refuses everyone still waiting (the provider is closing). */
  drain(err: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.fail(err)
  }

  private releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiters.shift()
      // The slot passes straight to the next waiter: `active` stays the same.
      if (next) next.grant(this.releaser())
      else this.active--
    }
  }
}
