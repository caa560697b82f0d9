// One upstream call's lifetime, as the dispatch loop sees it: an Attempt (own AbortController
// and timers), the CallContext handed to the adapter, and the breaker call around it. The
// breaker call settles at the commit point for JSON; for a stream it stays open until the
// stream ends (`end`), so that a failure after commit counts against the breaker that let the
// stream through. `outcome` resolves once: committed (with the value) or failed before commit.
import type { CallContext } from '../../providers/contract.ts'
import { UpstreamError, toUpstreamError } from '../../providers/upstream-error.ts'
import type { RequestContext } from '../router.ts'
import { Attempt } from './attempt.ts'
import type { Candidate } from './candidates.ts'
import type { Strategy } from './dispatch.ts'

export type Lease = { key: string | undefined; fingerprint: string }

export type Outcome<T> = { run: Running<T>; ok: true; value: T } | { run: Running<T>; ok: false; error: UpstreamError }

export interface Running<T> {
  candidate: Candidate
  /** Position of the candidate in the dispatch order. */
  index: number
  attempt: Attempt
  ctx: CallContext
  lease: Lease
  strategy: Strategy | undefined
  startedAt: number
  /** The first-byte limit is the adaptive one (another candidate could still answer). */
  adaptive: boolean
  /** The breaker's view of the call ends: undefined = success or neutral, else the fault. */
  end: (err?: UpstreamError) => void
  outcome: Promise<Outcome<T>>
}

/** What a failed breaker call means: opossum's own refusal, or the adapter's fault. */
function callFailure(thrown: unknown, signal: AbortSignal): UpstreamError {
  if ((thrown as { code?: string }).code === 'EOPENBREAKER') return new UpstreamError('breaker_open', 'circuit breaker open')
  return toUpstreamError(thrown, signal)
}

export function startCall<T>(o: {
  candidate: Candidate
  index: number
  lease: Lease
  adaptive: boolean
  strategy: Strategy | undefined
  rctx: RequestContext
  stream: boolean
  /** BREAKER_TIMEOUT_MS: the commit point must come within it (0 = no limit). */
  commitDeadlineMs: number
  settle(c: Candidate, ctx: CallContext, attempt: Attempt, strategy: Strategy | undefined): Promise<T>
  /** The call reaches the upstream (counted as an attempt). */
  onUpstream(): void
}): Running<T> {
  const c = o.candidate
  const t = c.entry.settings.timeouts
  const attempt = new Attempt(o.rctx.signal, t.totalMs)
  const ctx: CallContext = {
    signal: attempt.signal,
    log: o.rctx.log,
    requestId: o.rctx.requestId,
    apiKey: o.lease.key,
    // The provider's own limits as they are, unless this attempt's first-byte limit is the adaptive one.
    timeouts: o.adaptive ? { ...t, firstByteMs: c.entry.health.adaptiveFirstByteMs(t.firstByteMs, t.firstByteMinMs, t.adaptiveFactor) } : t,
  }
  // Only a stream's breaker call waits for its end; a JSON call is over at its commit point.
  let end: (err?: UpstreamError) => void = () => undefined
  const ended = o.stream
    ? new Promise<void>((resolve, reject) => {
        end = (err) => (err ? reject(err) : resolve())
      })
    : undefined
  // One promise, settled by whichever comes first: the commit inside the breaker call, or the
  // breaker call's failure before it (a failure after commit finds it settled: a no-op). A race
  // of the two would cost each call four promises more (issue 14).
  let settled!: (outcome: Outcome<T>) => void
  const outcome = new Promise<Outcome<T>>((resolve) => { settled = resolve })
  const run: Running<T> = {
    candidate: c, index: o.index, attempt, ctx, lease: o.lease, strategy: o.strategy, adaptive: o.adaptive, startedAt: performance.now(), end, outcome,
  }
  const fired = c.entry.breakers.fire(c.model, async () => {
    o.onUpstream()
    attempt.armCommitDeadline(o.commitDeadlineMs)
    const value = await o.settle(c, ctx, attempt, o.strategy)
    attempt.disarmCommitDeadline()
    settled({ run, ok: true, value })
    if (o.stream) await ended // the breaker sees the stream's own end
  })
  // A rejection after commit (a mid-stream fault) has been counted; it settles nothing then.
  fired.catch((thrown: unknown) => settled({ run, ok: false, error: callFailure(thrown, attempt.signal) }))
  return run
}
