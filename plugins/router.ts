// Decorates `app.router`: resolves a model to candidates, and dispatches to them in tier
// order with fallback. Depends on `registry` (providers, breakers, key pools) and `events`.
//
// The rules (README "Fallback rules" says the same):
// - client faults (upstream 400/413/422) return at once; every other fault moves on;
// - a 429 cools that key and the same provider is tried at once with its next key;
// - a provider with one key is retried RETRY_SAME_PROVIDER times (backoff + jitter);
// - a stream counts as answered only once its first chunk has arrived;
// - at most MAX_ATTEMPTS upstream calls per request;
// - when every usable candidate is cooling down: wait up to MAX_COOLDOWN_WAIT_MS, else 429 + Retry-After;
// - otherwise 503 all_providers_failed listing every attempt;
// - a client that leaves aborts the attempt (and any wait) at once: 499, nothing left running.
import fp from 'fastify-plugin'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { CallContext, ChatChunk, ChatCompletion, ChatRequest, EmbeddingRequest, EmbeddingResponse, Usage } from '../providers/contract.ts'
import { isStream } from '../providers/contract.ts'
import { UpstreamError, toUpstreamError } from '../providers/upstream-error.ts'
import { GatewayError, allProvidersFailed, allProvidersRateLimited, modelNotFound, typeForStatus } from './errors.ts'
import { breakerState, type ProviderEntry } from './registry.ts'
import { resolveCandidates, orderCandidates, couldAnswer, type Candidate } from './router/candidates.ts'
import { clientClosed, keysUnavailable } from './router/failures.ts'
import { Attempt } from './router/attempt.ts'
import { committedStream, completionToChunks, fromArray } from './router/stream.ts'
import { createRedactor } from './redact.ts'

/** How many times one request may wait for a cooling provider before answering 429. */
const MAX_COOLDOWN_WAITS = 2

/** Why a candidate is passed over without a call: its breaker is open, or it cannot serve this request. */
function skipError(entry: ProviderEntry, skipReason: (entry: ProviderEntry) => string | undefined): UpstreamError | undefined {
  if (breakerState(entry.breaker) === 'open') return new UpstreamError('breaker_open', 'circuit breaker open')
  const reason = skipReason(entry)
  return reason ? new UpstreamError('unsupported', reason) : undefined
}

/** What a failed breaker call means: opossum's own refusals, or the adapter's fault. */
function attemptFailure(thrown: unknown, signal: AbortSignal): UpstreamError {
  const code = (thrown as { code?: string }).code
  if (code === 'EOPENBREAKER') return new UpstreamError('breaker_open', 'circuit breaker open')
  if (code === 'ETIMEDOUT') return new UpstreamError('timeout', 'breaker timeout (BREAKER_TIMEOUT_MS)')
  return toUpstreamError(thrown, signal)
}

export interface RequestContext {
  signal: AbortSignal
  log: FastifyBaseLogger
  requestId: string
}

export interface Routed<T> {
  value: T
  provider: string
  tier: number
  attempts: number
}

export type RoutedChat =
  | (Routed<ChatCompletion> & { stream: false })
  | (Routed<AsyncGenerator<ChatChunk>> & { stream: true })

export interface Router {
  chat(req: ChatRequest, rctx: RequestContext): Promise<RoutedChat>
  embed(req: EmbeddingRequest, rctx: RequestContext): Promise<Routed<EmbeddingResponse>>
  /** The ordered candidates for a model, as the router would try them now. */
  candidates(model: string): Candidate[]
}

declare module 'fastify' {
  interface FastifyInstance {
    router: Router
  }
}

interface FailedAttempt {
  provider: string
  tier: number
  error: UpstreamError
}

/** What an attempt produced once it may be committed to the client. */
type Settled<T> = { value: T; attempt: Attempt; firstByteMs: number }

export default fp(async function router(app: FastifyInstance) {
  const { resilience, routing } = app.config
  const redact = createRedactor(app.config.secrets)
  let turn = 0

  const candidatesFor = (model: string) => orderCandidates(resolveCandidates(model, app.providers, routing.aliases), turn++)

  function describe(failures: FailedAttempt[]): string {
    return failures.map((f) => `${f.provider} (tier ${f.tier}): ${f.error.message}`).join('; ')
  }

  /** An upstream client fault is relayed with its own status, redacted, naming the provider. */
  function relayClientFault(err: UpstreamError, provider: string): GatewayError {
    const status = err.status ?? 400
    return new GatewayError(status, typeForStatus(status), err.upstreamCode ?? 'upstream_rejected_request', redact(`${provider} rejected the request: ${err.message}`))
  }

  /**
   * `adaptive`: the first-byte limit follows the provider's recent p95 (health.ts). Only when
   * another candidate could still answer: abandoning the last one early turns a slow answer
   * into a failure.
   */
  function contextFor(entry: ProviderEntry, attempt: Attempt, rctx: RequestContext, apiKey: string | undefined, adaptive: boolean): CallContext {
    const t = entry.settings.timeouts
    return {
      signal: attempt.signal,
      log: rctx.log,
      requestId: rctx.requestId,
      apiKey,
      timeouts: {
        connectMs: t.connectMs,
        firstByteMs: adaptive ? entry.health.adaptiveFirstByteMs(t.firstByteMs, t.firstByteMinMs, t.adaptiveFactor) : t.firstByteMs,
        idleMs: t.idleMs,
        totalMs: t.totalMs,
      },
    }
  }

  /**
   * The fallback loop shared by chat and embeddings. `settle` runs inside the breaker and
   * returns once the answer may be committed (a whole JSON answer, or a stream's first chunk).
   */
  async function dispatch<T>(
    operation: 'chat' | 'embed',
    model: string,
    stream: boolean,
    rctx: RequestContext,
    skipReason: (entry: ProviderEntry) => string | undefined,
    settle: (entry: ProviderEntry, model: string, ctx: CallContext, attempt: Attempt) => Promise<T>,
  ): Promise<Routed<T> & { attempt: Attempt; entry: ProviderEntry; firstByteMs: number }> {
    const all = resolveCandidates(model, app.providers, routing.aliases)
    if (all.length === 0) throw modelNotFound(model)
    const failures: FailedAttempt[] = []
    let attempts = 0
    let firstTier: number | undefined
    const emitRouted = (outcome: 'success' | 'client_error' | 'failed', entry?: ProviderEntry) =>
      app.events.emit('routed', { requestId: rctx.requestId, operation, model, outcome, provider: entry?.name, tier: entry?.tier, firstTier, attempts, fallback: failures.length > 0 })

    for (let waits = 0; ; waits++) {
      const roundStart = failures.length
      const ordered = orderCandidates(all, turn++)
      for (const [index, candidate] of ordered.entries()) {
        const { entry } = candidate
        if (attempts >= resilience.maxAttempts) break
        firstTier ??= entry.tier
        const skip = skipError(entry, skipReason)
        if (skip) {
          failures.push({ provider: entry.name, tier: entry.tier, error: skip })
          continue
        }
        for (let sameProviderRetries = 0; attempts < resilience.maxAttempts; ) {
          const lease = entry.keys.acquire()
          if (!lease) {
            failures.push({ provider: entry.name, tier: entry.tier, error: keysUnavailable(entry) })
            break
          }
          attempts++
          const attempt = new Attempt(rctx.signal, entry.settings.timeouts.totalMs)
          const adaptive = stream && attempts < resilience.maxAttempts && ordered.slice(index + 1).some(couldAnswer)
          const ctx = contextFor(entry, attempt, rctx, lease.key, adaptive)
          try {
            const settled = (await entry.breaker.fire(async () => {
              const value = await settle(entry, candidate.model, ctx, attempt)
              return { value, attempt, firstByteMs: attempt.elapsedMs() } satisfies Settled<T>
            })) as Settled<T>
            entry.keys.succeeded(lease.key)
            // Only streams: a non-stream answer's time is the whole generation, not a first byte.
            if (stream) entry.health.recordFirstByte(settled.firstByteMs)
            app.events.emit('attempt', { requestId: rctx.requestId, provider: entry.name, tier: entry.tier, model: candidate.model, operation, stream, outcome: 'success', latencyMs: settled.firstByteMs, firstByteMs: settled.firstByteMs })
            emitRouted('success', entry)
            return { value: settled.value, provider: entry.name, tier: entry.tier, attempts, attempt, entry, firstByteMs: settled.firstByteMs }
          } catch (thrown) {
            const err = attemptFailure(thrown, attempt.signal)
            // The breaker opened (or is half-open with its one trial out): no upstream call was made.
            if (err.kind === 'breaker_open') attempts--
            attempt.abort(err) // frees the upstream socket if the adapter left it open (a breaker timeout leaves the call running)
            attempt.release()
            app.events.emit('attempt', { requestId: rctx.requestId, provider: entry.name, tier: entry.tier, model: candidate.model, operation, stream, outcome: err.kind, latencyMs: attempt.elapsedMs(), firstByteMs: undefined })
            if (err.kind === 'aborted' || rctx.signal.aborted) {
              emitRouted('client_error', entry)
              throw clientClosed()
            }
            if (err.kind === 'client') {
              emitRouted('client_error', entry)
              throw relayClientFault(err, entry.name)
            }
            const message = redact(err.message)
            entry.health.recordFailure(message)
            if (adaptive && err.kind === 'timeout' && (attempt.firstByteTimedOut || attempt.elapsedMs() >= ctx.timeouts.firstByteMs)) {
              entry.health.recordFirstByteTimeout()
            }
            failures.push({ provider: entry.name, tier: entry.tier, error: new UpstreamError(err.kind, message, { status: err.status }) })
            rctx.log.warn({ provider: entry.name, kind: err.kind, status: err.status, err: message }, 'upstream attempt failed')
            if (err.kind === 'rate_limited') {
              entry.keys.rateLimited(lease.key, err.retryAfterMs)
              if (entry.keys.hasAvailable()) continue // next key of the same provider, at once
              break
            }
            if (err.kind === 'auth') {
              const key = entry.keys.authFailed(lease.key)
              if (key) rctx.log.error({ provider: entry.name, key, status: err.status }, 'upstream rejected a key; it is out for KEY_AUTH_COOLDOWN_MS')
              if (key && entry.keys.hasAvailable()) continue
              break
            }
            const retryable = err.kind === 'server' || err.kind === 'overloaded' || err.kind === 'timeout' || err.kind === 'connection' || err.kind === 'malformed' || err.kind === 'stream_error'
            if (entry.keys.size === 1 && retryable && sameProviderRetries < resilience.retrySameProvider) {
              sameProviderRetries++
              // Exponential back-off with equal jitter (half fixed, half random: spread out, yet
              // never an immediate retry of a provider that just failed); aborted with the client.
              const backoff = resilience.retryBaseDelayMs * 2 ** (sameProviderRetries - 1)
              const delay = backoff / 2 + Math.random() * (backoff / 2)
              await sleep(delay, undefined, { signal: rctx.signal }).catch(() => undefined)
              if (rctx.signal.aborted) {
                emitRouted('client_error', entry)
                throw clientClosed()
              }
              continue
            }
            break
          }
        }
      }

      // Every candidate failed in this round. If they only lacked free keys, wait or say when.
      // Providers skipped for an open breaker or a request they cannot serve are no candidates:
      // if every one that could answer is only rate-limited, "retry after N s" is the truth.
      const round = failures.slice(roundStart).filter((f) => f.error.kind !== 'breaker_open' && f.error.kind !== 'unsupported')
      const onlyRateLimited = round.length > 0 && round.every((f) => f.error.kind === 'rate_limited' || f.error.kind === 'cooling_down')
      if (onlyRateLimited) {
        const limited = new Set(round.map((f) => f.provider))
        const freeAt = Math.min(...all.filter((c) => limited.has(c.entry.name)).map((c) => c.entry.keys.unavailable()?.freeAt ?? Date.now()))
        const waitMs = Math.max(0, freeAt - Date.now())
        if (waitMs <= resilience.maxCooldownWaitMs && waits < MAX_COOLDOWN_WAITS && attempts < resilience.maxAttempts) {
          await sleep(waitMs, undefined, { signal: rctx.signal }).catch(() => undefined)
          if (rctx.signal.aborted) {
            emitRouted('client_error')
            throw clientClosed()
          }
          continue
        }
        emitRouted('failed')
        throw allProvidersRateLimited(`All providers for \`${model}\` are rate-limited: ${describe(failures)}`, Math.max(1, Math.ceil(waitMs / 1000)))
      }
      emitRouted('failed')
      const capped = attempts >= resilience.maxAttempts ? ` (stopped after MAX_ATTEMPTS=${resilience.maxAttempts})` : ''
      throw allProvidersFailed(`All providers failed for \`${model}\`${capped}: ${describe(failures)}`)
    }
  }

  const router: Router = {
    candidates: candidatesFor,

    async chat(req, rctx) {
      const stream = req.stream === true
      const includeUsage = req.stream_options?.include_usage === true
      const routed = await dispatch<ChatCompletion | { first: ChatChunk; iterator: AsyncIterator<ChatChunk> }>(
        'chat',
        req.model,
        stream,
        rctx,
        (entry) => entry.provider.cannotServe?.(req),
        async (entry, model, ctx, attempt) => {
          if (!stream) {
            const result = await entry.provider.chat({ ...req, model }, ctx)
            if (isStream(result)) throw new UpstreamError('malformed', 'the provider streamed a non-stream request')
            return result
          }
          attempt.armFirstByte(ctx.timeouts.firstByteMs)
          const result = await entry.provider.chat({ ...req, model }, ctx)
          const iterable = isStream(result) ? result : fromArray(completionToChunks(result, includeUsage))
          const iterator = iterable[Symbol.asyncIterator]()
          const first = await iterator.next()
          attempt.disarmFirstByte()
          if (first.done) throw new UpstreamError('malformed', 'the upstream stream ended before its first chunk')
          return { first: first.value, iterator }
        },
      )
      const { entry, attempt } = routed
      if (!stream) {
        attempt.release()
        const completion = routed.value as ChatCompletion
        entry.health.recordSuccess(routed.firstByteMs)
        if (completion.usage) app.events.emit('usage', { provider: entry.name, tier: entry.tier, usage: completion.usage })
        return { stream: false, value: completion, provider: routed.provider, tier: routed.tier, attempts: routed.attempts }
      }
      const { first, iterator } = routed.value as { first: ChatChunk; iterator: AsyncIterator<ChatChunk> }
      const onEnd = (outcome: 'complete' | 'failed' | 'aborted', usage: Usage | undefined, err: UpstreamError | undefined) => {
        if (outcome === 'complete') entry.health.recordSuccess(attempt.elapsedMs())
        else if (outcome === 'failed') entry.health.recordFailure(redact(`mid-stream: ${err?.message ?? 'failed'}`))
        if (usage) app.events.emit('usage', { provider: entry.name, tier: entry.tier, usage })
        app.events.emit('stream_end', { requestId: rctx.requestId, provider: entry.name, tier: entry.tier, outcome, usage, durationMs: attempt.elapsedMs() })
      }
      return { stream: true, value: committedStream(first, iterator, attempt, entry.settings.timeouts.idleMs, onEnd), provider: routed.provider, tier: routed.tier, attempts: routed.attempts }
    },

    async embed(req, rctx) {
      const routed = await dispatch<EmbeddingResponse>(
        'embed',
        req.model,
        false,
        rctx,
        (entry) => (entry.provider.embed ? undefined : 'does not support embeddings'),
        (entry, model, ctx) => entry.provider.embed!({ ...req, model }, ctx),
      )
      routed.attempt.release()
      routed.entry.health.recordSuccess(routed.firstByteMs)
      return { value: routed.value, provider: routed.provider, tier: routed.tier, attempts: routed.attempts }
    },
  }
  app.decorate('router', router)
}, { name: 'router', dependencies: ['registry', 'events'] })
