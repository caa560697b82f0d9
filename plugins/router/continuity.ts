// A committed stream, kept alive across its provider's failure. Every leg's chunks go through
// ResumableAnswer (CONTINUITY's plugins/router/resume/answer.ts: tool calls held until whole,
// the continuation's repeated text cut, the first leg's id kept). When a leg fails after commit
// (cut, idle timeout, in-band error, malformed data), decide() says whether to continue: then
// a continuation (prefill, or a continue-instruction) is dispatched through the same loop as
// any request — a 400 to it is never the client's — and its chunks carry on the same answer.
// When nothing can continue, the original failure ends the stream (error event, no [DONE]).
import type { FastifyInstance } from 'fastify'
import type { BatchIterator, ChatChunk, Usage } from '../../providers/contract.ts'
import { STREAM_NOTE } from '../../providers/contract.ts'
import { UpstreamError, toUpstreamError } from '../../providers/upstream-error.ts'
import type { RequestContext } from '../router.ts'
import { couldAnswer, type Candidate } from './candidates.ts'
import { decide } from './decide.ts'
import { dispatch, DispatchError, type Call, type DispatchDeps, type Job, type Strategy } from './dispatch.ts'
import { legChunks, type OpenedStream } from './stream.ts'
import { batchesOf, handOut } from './batch.ts'
import { type ResumableAnswer, ContinuationDiverged } from './resume/answer.ts'

type Leg = Call<OpenedStream> & { strategy?: Strategy }

export interface ContinuedStreamOptions {
  app: FastifyInstance
  rctx: RequestContext
  answer: ResumableAnswer | undefined
  first: Call<OpenedStream> & { attempts: number }
  all: Candidate[]
  redact(s: string): string
  attemptsSoFar: number
  deps: DispatchDeps
  continuationJob(ordered: Candidate[]): Omit<Job<OpenedStream>, 'attemptsBefore'>
  order(candidates: Candidate[]): Candidate[]
}

const where = (c: Candidate) => `${c.entry.name}/${c.model}`

/** What the router hands the route: chunks one by one or (plugins/router/batch.ts) in batches. */
export type ContinuedStream = AsyncGenerator<ChatChunk> & BatchIterator<ChatChunk>

/**
 * An async generator's body (and so its `finally`) never runs if it is closed before its first
 * `next()`: a stream dropped unread would leave its upstream call, timers and breaker call
 * open. This closes the first leg in that case.
 */
export function closeIfNeverRead(gen: ContinuedStream, first: Call<OpenedStream>): ContinuedStream {
  let started = false
  const neverRead = () => {
    if (started) return
    started = true
    first.attempt.abort(new UpstreamError('aborted', 'the client closed the request'))
    void first.value.iterator.return?.().catch(() => undefined)
    first.end()
    first.attempt.release()
  }
  const wrapper = {
    next: (...args: [] | [unknown]) => {
      started = true
      return gen.next(...args)
    },
    nextBatch: () => {
      started = true
      return gen.nextBatch()
    },
    return: (value: unknown) => {
      neverRead()
      return gen.return(value as never)
    },
    throw: (err: unknown) => {
      neverRead()
      return gen.throw(err)
    },
    [Symbol.asyncIterator]: () => wrapper,
  }
  return wrapper as unknown as ContinuedStream
}

/**
 * The answer's chunks across legs. The work is an async generator of batches (one resumption
 * per upstream read, not per chunk); this hands them out one by one to readers that only know
 * `next()` (a session, cache or scrubbing wrapper) and whole to readers of the batch protocol.
 */
export function continuedStream(o: ContinuedStreamOptions): ContinuedStream {
  const gen = continuedBatches(o)
  const stream = handOut(() => gen.next() as Promise<IteratorResult<ChatChunk[], undefined>>, () => gen.return())
  return Object.assign(stream, { throw: (err: unknown) => gen.throw(err) }) as unknown as ContinuedStream
}

const sameChunks = (a: ChatChunk[], b: ChatChunk[]): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Yields non-empty batches only. */
async function* continuedBatches(o: ContinuedStreamOptions): AsyncGenerator<ChatChunk[], void> {
  const { app, rctx, answer } = o
  let leg: Leg = o.first
  let attempts = o.attemptsSoFar
  let note: string | undefined
  for (;;) {
    const { entry } = leg.candidate
    let usage: Usage | undefined
    let failure: UpstreamError | undefined
    let finished = false
    try {
      for await (const batch of batchesOf(legChunks(leg.value, leg.attempt, entry.settings.timeouts.idleMs))) {
        // STREAM_RESUME off: the batch as it came (no array per chunk; a note needs an answer).
        if (!answer) {
          for (let i = 0; i < batch.length; i++) if (batch[i].usage) usage = batch[i].usage!
          yield batch
          continue
        }
        for (let i = 0; i < batch.length; i++) if (batch[i].usage) usage = batch[i].usage!
        const out: ChatChunk[] = []
        let diverged: unknown
        try {
          answer.acceptInto(batch, out)
        } catch (err) {
          diverged = err
        }
        if (note && out.length > 0) {
          out[0][STREAM_NOTE] = note
          note = undefined
        }
        // What was accepted before a chunk failed reaches the client first, as chunk by chunk it did.
        // A batch that passed as it came goes on as itself (its upstream bytes, RAW_FRAMES, with it).
        if (out.length > 0) yield sameChunks(out, batch) ? batch : out
        if (diverged !== undefined) throw diverged
      }
      const tail = answer ? answer.finish() : []
      if (tail.length > 0) yield tail
      finished = true
    } catch (err) {
      // A continuation that started over and then diverged is that leg's malformed output.
      failure = err instanceof ContinuationDiverged ? new UpstreamError('malformed', err.message) : toUpstreamError(err, leg.attempt.signal)
    } finally {
      // Runs on every end: complete, failed, or the client left (the consumer closed us).
      const outcome = finished ? 'complete' : failure && !leg.attempt.clientLeft ? 'failed' : 'aborted'
      endLeg(leg, outcome, usage, failure)
    }
    if (finished) return
    const failed = failure!
    if (leg.attempt.clientLeft) throw failed
    // The client already has its finish_reason: only the trailer was lost, the answer is whole.
    if (answer?.finished()) {
      const tail = answer.finish()
      if (tail.length > 0) yield tail
      return
    }
    const next = await resume(leg, failed)
    if (!next) throw failed
    attempts = next.attempts
    // The note reaches the client (as an SSE comment): upstream text in it is redacted, one line.
    note = o.redact(`tiergate: resumed on ${where(next.candidate)} via ${next.strategy} after ${where(leg.candidate)} failed: ${failed.message}`).replace(/[\r\n]+/g, ' ')
    leg = next
  }

  function endLeg(l: Leg, outcome: 'complete' | 'failed' | 'aborted', usage: Usage | undefined, err: UpstreamError | undefined): void {
    const e = l.candidate.entry
    // A mid-stream fault counts against the breaker that let this stream through.
    l.end(outcome === 'failed' ? err : undefined)
    l.attempt.release()
    if (outcome === 'complete') e.health.recordSuccess(l.attempt.elapsedMs())
    else if (outcome === 'failed') e.health.recordFailure(o.redact(`mid-stream: ${err?.message ?? 'failed'}`))
    if (usage) app.events.emit('usage', { provider: e.name, tier: e.tier, usage })
    app.events.emit('stream_end', { requestId: rctx.requestId, provider: e.name, tier: e.tier, outcome, usage, durationMs: l.attempt.elapsedMs() })
  }

  async function resume(failedLeg: Leg, err: UpstreamError): Promise<(Leg & { attempts: number; strategy: Strategy }) | undefined> {
    const { resilience } = app.config
    const from = where(failedLeg.candidate)
    // The leg that failed is tried last: another candidate first, itself only if nothing else can.
    const others = o.all.filter((c) => c !== failedLeg.candidate)
    const ordered = [...o.order(others), failedLeg.candidate]
    const d = decide({
      fault: { kind: err.kind, status: err.status, firstByteTimeout: false, unreachable: false, contextLength: false, phase: 'after_commit' },
      keys: { size: 1, keyed: false, anotherFree: false, freeInMs: undefined },
      retriesDone: 0, next: ordered.some(couldAnswer) ? 'same_model' : 'none', laterModel: false,
      attemptsLeft: resilience.maxAttempts - attempts, waitsDone: 0,
      clientLeft: rctx.signal.aborted, gatewayMade: false,
      canResume: answer !== undefined && answer.canResume(),
      limits: resilience, random: 0,
    })
    if (d.next === 'stop') {
      if (answer) report(from, undefined, undefined, 'failed', err)
      return undefined
    }
    try {
      const call = await dispatch(o.deps, { ...o.continuationJob(ordered), attemptsBefore: attempts })
      const strategy = call.strategy ?? 'instruction'
      answer!.startLeg(strategy, call.candidate.model)
      report(from, where(call.candidate), strategy, 'resumed', err)
      return { ...call, strategy }
    } catch (thrown) {
      if (!(thrown instanceof DispatchError)) throw thrown
      attempts = thrown.attempts
      // A client that left while the continuation was sought is not a failed resume.
      if (thrown.failure.stop !== 'client_left') report(from, undefined, undefined, 'failed', err)
      return undefined
    }
  }

  function report(from: string, to: string | undefined, strategy: Strategy | undefined, outcome: 'resumed' | 'failed', err: UpstreamError): void {
    const line = { requestId: rctx.requestId, from, to, strategy, outcome }
    const message = o.redact(err.message)
    if (outcome === 'resumed') rctx.log.warn({ ...line, err: message }, 'stream resumed on another candidate')
    else rctx.log.warn({ ...line, err: message }, 'stream failed after commit and could not be resumed')
    app.events.emit('resume', line)
  }
}
