// The fallback driver: one flat loop over the ordered candidates that launches calls and asks
// decide() what each failure means. Shared by chat, embeddings and resume continuations.
// - A call counts as an attempt once it reaches the upstream (a breaker refusal is not one).
// - It settles at its commit point (a whole JSON answer, a stream's first content chunk); a
//   stream's breaker call stays open until the stream ends, so a failure after commit counts
//   against the breaker that let the stream through (see `Call.end`).
// - Hedging (HEDGE_FIRST_BYTE_MS): a stream without its first chunk after that long gets the
//   next candidate started beside it; the first to commit wins, the other is aborted at once.
import { setTimeout as sleep } from 'node:timers/promises'
import type { CallContext } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import type { ProviderEntry } from '../registry.ts'
import type { Config } from '../../config.ts'
import type { RequestContext } from '../router.ts'
import type { AttemptEvent } from '../events.ts'
import type { Attempt } from './attempt.ts'
import { startCall, type Lease, type Running } from './call.ts'
import { couldAnswer, type Candidate } from './candidates.ts'
import { conclude, decide, isContextLength, isUnreachable, type Decision, type Fault } from './decide.ts'
import { keysUnavailable } from './failures.ts'

export type Strategy = 'prefill' | 'instruction'

export interface FailedAttempt {
  provider: string
  tier: number
  model: string
  error: UpstreamError
}

export interface Job<T> {
  operation: 'chat' | 'embed'
  stream: boolean
  rctx: RequestContext
  /** Ordered: the loop tries them in this order. */
  ordered: Candidate[]
  /** A reason this provider cannot serve the request (skipped without a call). */
  skipReason(entry: ProviderEntry): string | undefined
  /** Runs the call up to its commit point. `strategy` is set for a resume continuation. */
  settle(c: Candidate, ctx: CallContext, attempt: Attempt, strategy: Strategy | undefined): Promise<T>
  /** Frees a committed value nobody will read (a hedge that lost the race at the same moment). */
  dispose(value: T): void
  /** A resume continuation: the strategy each candidate gets first. */
  strategyFor?(c: Candidate): Strategy
  /** A candidate answered a prefill with a 400: it does not take prefills. */
  prefillRejected?(c: Candidate): void
  /** HEDGE_FIRST_BYTE_MS of this provider (0 = off). */
  hedgeMs(entry: ProviderEntry): number
  /** Calls already made for this request (resume legs count against the same MAX_ATTEMPTS). */
  attemptsBefore: number
  /** Key fingerprint to ask the pool for first (affinity). */
  preferKey?(c: Candidate): string | undefined
}

export interface Call<T> {
  candidate: Candidate
  attempt: Attempt
  key: string | undefined
  keyFingerprint: string
  /** Ends the breaker's view of this call: undefined = success (or neutral), else the fault. */
  end(err?: UpstreamError): void
  firstByteMs: number
  value: T
  /** The continuation form this call was made with (resume legs only). */
  strategy: Strategy | undefined
}

export type DispatchFailure =
  | { stop: 'relay_client_fault'; error: UpstreamError; provider: string }
  | { stop: 'client_left' }
  | { stop: 'rate_limited'; retryAfterS: number }
  | { stop: 'all_failed'; capped: boolean }

export class DispatchError extends Error {
  readonly failure: DispatchFailure
  readonly failures: FailedAttempt[]
  readonly attempts: number
  constructor(failure: DispatchFailure, failures: FailedAttempt[], attempts: number) {
    super(failure.stop)
    this.failure = failure
    this.failures = failures
    this.attempts = attempts
  }
}

/** The same for every request (a request's own parts come with its job): made once, not per request. */
export interface DispatchDeps {
  config: Config
  redact(s: string): string
  emitAttempt(e: AttemptEvent): void
  logFailure(rctx: RequestContext, e: { provider: string; model: string; kind: string; status: number | undefined; err: string }): void
  logKeyRejected(rctx: RequestContext, e: { provider: string; key: string; status: number | undefined }): void
}

/** Why a candidate is passed over without a call: a breaker open for its model, or it cannot serve this request. */
function skipError(c: Candidate, skipReason: (entry: ProviderEntry) => string | undefined): UpstreamError | undefined {
  if (c.entry.breakers.stateFor(c.model) === 'open') return new UpstreamError('breaker_open', 'circuit breaker open')
  const reason = skipReason(c.entry)
  return reason ? new UpstreamError('unsupported', reason) : undefined
}

const abortable = (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }).catch(() => undefined)

export async function dispatch<T>(deps: DispatchDeps, job: Job<T>): Promise<Call<T> & { attempts: number; failures: FailedAttempt[] }> {
  const { resilience, breaker: breakerConfig } = deps.config
  const { rctx, ordered } = job
  const failures: FailedAttempt[] = []
  const running = new Set<Running<T>>()
  /** Candidates that refused a prefill in this request (made on the first refusal: rare). */
  let instructionOnly: Set<number> | undefined
  let attempts = job.attemptsBefore
  let index = 0
  let retries = 0
  let waits = 0
  let hedgeDue = false

  const fail = (failure: DispatchFailure): never => {
    for (const run of running) cancel(run, new UpstreamError('aborted', 'the request ended'))
    throw new DispatchError(failure, failures, attempts)
  }
  const cancel = (run: Running<T>, reason: UpstreamError) => {
    running.delete(run)
    run.attempt.abort(reason)
    run.end()
    void run.outcome.then((o) => {
      if (o.ok) job.dispose(o.value)
      run.attempt.release()
    })
  }
  const laterCandidates = (from: number) => ordered.slice(from + 1).filter(couldAnswer)
  /** laterCandidates(from).length > 0, without building the list (asked on every stream's launch). */
  const hasLaterCandidate = (from: number) => {
    for (let i = from + 1; i < ordered.length; i++) if (couldAnswer(ordered[i])) return true
    return false
  }
  /** The call launched last (the one a hedge would follow). */
  let newest: Running<T> | undefined
  const describeNext = (from: number) => {
    const later = laterCandidates(from)
    const here = ordered[from]
    const next: 'same_model' | 'other_model' | 'none' = later.length === 0 ? 'none' : later[0].targetIndex === here.targetIndex ? 'same_model' : 'other_model'
    return { next, laterModel: later.some((c) => c.targetIndex !== here.targetIndex) }
  }

  function launch(c: Candidate, lease: Lease): void {
    const adaptive = job.stream && attempts + 1 < resilience.maxAttempts && hasLaterCandidate(index)
    const strategy = job.strategyFor ? (instructionOnly?.has(index) ? 'instruction' : job.strategyFor(c)) : undefined
    newest = startCall({
      candidate: c, index, lease, adaptive, strategy, rctx, stream: job.stream, commitDeadlineMs: breakerConfig.timeoutMs,
      settle: job.settle,
      onUpstream: () => void attempts++, // the call reaches the upstream now (a breaker refusal never gets here)
    })
    running.add(newest)
  }

  function hedgeTimer(): { promise: Promise<'hedge'>; clear(): void } | undefined {
    if (!job.stream || hedgeDue || attempts >= resilience.maxAttempts) return undefined
    const last = newest
    if (!last || !running.has(last) || last.index !== index) return undefined
    const ms = job.hedgeMs(last.candidate.entry)
    if (ms <= 0 || !hasLaterCandidate(index)) return undefined
    let timer: NodeJS.Timeout | undefined
    const promise = new Promise<'hedge'>((resolve) => {
      timer = setTimeout(() => resolve('hedge'), Math.max(0, ms - (performance.now() - last.startedAt)))
    })
    return { promise, clear: () => clearTimeout(timer) }
  }

  /** decide() for the candidate at `index`, with what the loop knows now. */
  function decideHere(c: Candidate, fault: Omit<Fault, 'phase'>, strategy: Strategy | undefined): Decision {
    const unavailable = c.entry.keys.unavailable(c.model)
    return decide({
      fault: { ...fault, phase: 'before_commit' },
      keys: {
        size: c.entry.keys.size,
        keyed: c.entry.settings.apiKeys.length > 0,
        anotherFree: c.entry.keys.hasAvailable(c.model),
        freeInMs: unavailable?.reason === 'rate_limited' ? unavailable.freeAt - Date.now() : undefined,
      },
      retriesDone: retries, ...describeNext(index), attemptsLeft: resilience.maxAttempts - attempts, waitsDone: waits,
      clientLeft: rctx.signal.aborted, gatewayMade: strategy ?? false, canResume: false,
      limits: resilience, random: Math.random(),
    })
  }

  /** Applies a decision about the candidate at `index` (a stop throws). */
  async function follow(d: Decision, error: UpstreamError, provider: string): Promise<void> {
    switch (d.next) {
      case 'stop':
        if (d.reason === 'relay_client_fault') fail({ stop: 'relay_client_fault', error, provider })
        fail({ stop: 'client_left' })
        return
      case 'next_key':
        return
      case 'retry_as_instruction':
        ;(instructionOnly ??= new Set()).add(index)
        return
      case 'same_provider':
        if (running.size > 0) break // a hedge is running: it is the retry
        retries++
        await abortable(d.afterMs, rctx.signal)
        return
      case 'wait':
        if (running.size > 0) break
        waits++
        await abortable(d.ms, rctx.signal)
        return
      case 'next_model': {
        const target = ordered[index].targetIndex
        while (ordered[index] && ordered[index].targetIndex === target) index++
        retries = 0
        return
      }
      case 'next_candidate':
        break
    }
    index++
    retries = 0
  }

  for (;;) {
    if (rctx.signal.aborted) fail({ stop: 'client_left' })

    if (running.size === 0 || hedgeDue) {
      const c = ordered[index]
      if (!c || attempts >= resilience.maxAttempts) {
        hedgeDue = false
        if (running.size === 0) {
          const usable = failures.filter((f) => f.error.kind !== 'breaker_open' && f.error.kind !== 'unsupported')
          const onlyRateLimited = usable.length > 0 && usable.every((f) => f.error.kind === 'rate_limited' || f.error.kind === 'cooling_down')
          const limited = new Set(usable.map((f) => `${f.provider}\u0000${f.model}`))
          const freeAt = Math.min(...ordered.filter((o) => limited.has(`${o.entry.name}\u0000${o.model}`)).map((o) => o.entry.keys.unavailable(o.model)?.freeAt ?? Date.now()))
          const conclusion = conclude({ onlyRateLimited, freeInMs: freeAt - Date.now(), waitsDone: waits, attemptsLeft: resilience.maxAttempts - attempts, maxCooldownWaitMs: resilience.maxCooldownWaitMs })
          if (conclusion.next === 'wait') {
            waits++
            await abortable(conclusion.ms, rctx.signal)
            index = 0
            retries = 0
            continue
          }
          if (conclusion.reason === 'rate_limited') fail({ stop: 'rate_limited', retryAfterS: conclusion.retryAfterS })
          fail({ stop: 'all_failed', capped: attempts >= resilience.maxAttempts })
        }
      } else {
        const skip = skipError(c, job.skipReason)
        if (skip) {
          failures.push({ provider: c.entry.name, tier: c.entry.tier, model: c.model, error: skip })
          index++
          retries = 0
          continue
        }
        const lease = c.entry.keys.acquire(c.model, { prefer: job.preferKey?.(c) })
        if (!lease) {
          const error = keysUnavailable(c.entry, c.model)
          failures.push({ provider: c.entry.name, tier: c.entry.tier, model: c.model, error })
          await follow(decideHere(c, { kind: error.kind, firstByteTimeout: false, unreachable: false, contextLength: false }, undefined), error, c.entry.name)
          continue
        }
        launch(c, lease)
        hedgeDue = false
      }
    }

    const hedge = hedgeTimer()
    // The usual case, one call and no hedge: its outcome itself (no race, no arrays).
    const event = !hedge && running.size === 1
      ? await running.values().next().value!.outcome
      : await Promise.race([...[...running].map((r) => r.outcome), ...(hedge ? [hedge.promise] : [])])
    hedge?.clear()
    if (event === 'hedge') {
      hedgeDue = true
      index++
      retries = 0
      continue
    }
    const { run } = event
    running.delete(run)
    const { candidate: c, attempt } = run
    if (event.ok) {
      for (const other of running) cancel(other, new UpstreamError('aborted', 'another candidate answered first (hedge)'))
      const firstByteMs = attempt.elapsedMs()
      c.entry.keys.succeeded(run.lease.key, c.model)
      if (job.stream) c.entry.health.recordFirstByte(firstByteMs)
      deps.emitAttempt({ requestId: rctx.requestId, provider: c.entry.name, tier: c.entry.tier, model: c.model, operation: job.operation, stream: job.stream, outcome: 'success', latencyMs: firstByteMs, firstByteMs })
      return { candidate: c, attempt, key: run.lease.key, keyFingerprint: run.lease.fingerprint, end: run.end, firstByteMs, value: event.value, strategy: run.strategy, attempts, failures }
    }

    const err = event.error
    attempt.abort(err) // frees the upstream socket if the adapter left it open
    attempt.release()
    deps.emitAttempt({ requestId: rctx.requestId, provider: c.entry.name, tier: c.entry.tier, model: c.model, operation: job.operation, stream: job.stream, outcome: err.kind, latencyMs: attempt.elapsedMs(), firstByteMs: undefined })
    if (err.kind === 'aborted' || rctx.signal.aborted) fail({ stop: 'client_left' })
    const message = deps.redact(err.message)
    const providerFault = !err.isClientFault && err.kind !== 'local_resource' && err.kind !== 'breaker_open'
    if (providerFault) c.entry.health.recordFailure(message)
    if (run.adaptive && err.kind === 'timeout' && (attempt.firstByteTimedOut || attempt.elapsedMs() >= run.ctx.timeouts.firstByteMs)) c.entry.health.recordFirstByteTimeout()
    failures.push({ provider: c.entry.name, tier: c.entry.tier, model: c.model, error: new UpstreamError(err.kind, message, { status: err.status, upstreamCode: err.upstreamCode }) })
    if (err.kind !== 'breaker_open') deps.logFailure(rctx, { provider: c.entry.name, model: c.model, kind: err.kind, status: err.status, err: message })
    if (err.kind === 'rate_limited') c.entry.keys.rateLimited(run.lease.key, c.model, err.retryAfterMs)
    if (err.kind === 'auth') {
      const key = c.entry.keys.authFailed(run.lease.key)
      if (key) deps.logKeyRejected(rctx, { provider: c.entry.name, key, status: err.status })
    }
    if (err.kind === 'client' && run.strategy === 'prefill') job.prefillRejected?.(c)
    // An older hedged call failing says nothing about the candidate now at `index`.
    if (run.index !== index) continue
    const fault = {
      kind: err.kind, status: err.status, retryAfterMs: err.retryAfterMs,
      firstByteTimeout: err.kind === 'timeout' && attempt.firstByteTimedOut,
      unreachable: isUnreachable(err), contextLength: isContextLength(err),
    }
    await follow(decideHere(c, fault, run.strategy), err, c.entry.name)
  }
}
