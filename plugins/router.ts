// Decorates `app.router`: resolves a model (aliases, per-request `models`/`fallbacks`,
// `provider/model` pinning) to ordered candidates and hands them to the flat fallback driver
// (router/dispatch.ts), which asks router/decide.ts what each fault means. A committed stream
// stays the router's: a failure mid-answer is resumed on the next candidate (router/continuity.ts).
// Depends on `registry` (providers, breakers, key pools) and `events`; calls `app.affinity`
// when FLEET decorated it. README "Fallback rules" describes every rule.
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingRequest, EmbeddingResponse } from '../providers/contract.ts'
import { isStream } from '../providers/contract.ts'
import { UpstreamError } from '../providers/upstream-error.ts'
import { GatewayError, allProvidersFailed, allProvidersRateLimited, modelNotFound, typeForStatus } from './errors.ts'
import type { ProviderEntry } from './registry.ts'
import { resolveCandidates, orderCandidates, requestedModels, type Candidate } from './router/candidates.ts'
import { clientClosed } from './router/failures.ts'
import { dispatch, DispatchError, type DispatchDeps, type FailedAttempt, type Job } from './router/dispatch.ts'
import { completionToChunks, fromArray } from './router/replay.ts'
import { openStream, type OpenedStream } from './router/stream.ts'
import { closeIfNeverRead, continuedStream } from './router/continuity.ts'
import { ResumableAnswer } from './router/resume/answer.ts'
import { PrefillPolicy } from './router/prefill.ts'
import { createRedactor } from './redact.ts'

export interface RequestContext {
  signal: AbortSignal
  log: FastifyBaseLogger
  requestId: string
  /** Gateway key id, for cache/affinity partitioning. */
  clientKeyId?: string
  /** session_id or previous_response_id, for affinity. */
  conversationId?: string
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
  /** The ordered candidates for a model, as the router would try them now (does not take a round-robin turn). */
  candidates(model: string): Candidate[]
}

declare module 'fastify' {
  interface FastifyInstance {
    router: Router
  }
}

/** FLEET's cache-warm affinity (brief "Affinity"), when decorated. */
interface Affinity {
  lookup(req: ChatRequest, rctx: RequestContext): Promise<{ provider: string; key: string } | undefined>
  record(req: ChatRequest, rctx: RequestContext, served: { provider: string; key: string }): void
}

/** Per-request fallbacks: strings only, whatever the client sent. */
const modelList = (value: unknown): string[] => (Array.isArray(value) ? value.filter((m): m is string => typeof m === 'string' && m.length > 0) : [])

/**
 * The request as it goes upstream, and the models it asks for: its own fallbacks (`models`,
 * `fallbacks`) are the gateway's, never forwarded. Most requests have none, and need no copy of
 * themselves or list of models (issue 14).
 */
function withoutOwnFallbacks(req: ChatRequest): { upstreamReq: ChatRequest; requested: string | string[] } {
  if (req.models === undefined && req.fallbacks === undefined) return { upstreamReq: req, requested: req.model }
  const { models, fallbacks, ...upstreamReq } = req
  return { upstreamReq, requested: requestedModels(req.model, [...modelList(models), ...modelList(fallbacks)]) }
}

export default fp(async function router(app: FastifyInstance) {
  const { routing, streaming } = app.config
  const redact = createRedactor(app.config.secrets)
  const prefill = new PrefillPolicy()
  let turn = 0

  const deps: DispatchDeps = {
    config: app.config,
    redact,
    emitAttempt: (e) => app.events.emit('attempt', e),
    logFailure: (rctx, e) => rctx.log.warn(e, 'upstream attempt failed'),
    logKeyRejected: (rctx, e) => rctx.log.error(e, 'upstream rejected a key; it is out for KEY_AUTH_COOLDOWN_MS'),
  }

  function describe(failures: FailedAttempt[]): string {
    return failures.map((f) => `${f.provider} (tier ${f.tier}): ${f.error.message}`).join('; ')
  }

  /** What the client is told when dispatch gave up. */
  function gatewayError(err: DispatchError, model: string): GatewayError {
    const f = err.failure
    switch (f.stop) {
      case 'client_left':
        return clientClosed()
      case 'relay_client_fault': {
        // An upstream client fault is relayed with its own status, redacted, naming the provider.
        const status = f.error.status ?? 400
        return new GatewayError(status, typeForStatus(status), f.error.upstreamCode ?? 'upstream_rejected_request', redact(`${f.provider} rejected the request: ${f.error.message}`))
      }
      case 'rate_limited':
        return allProvidersRateLimited(`All providers for \`${model}\` are rate-limited: ${describe(err.failures)}`, f.retryAfterS)
      case 'all_failed': {
        const capped = f.capped ? ` (stopped after MAX_ATTEMPTS=${app.config.resilience.maxAttempts})` : ''
        return allProvidersFailed(`All providers failed for \`${model}\`${capped}: ${describe(err.failures)}`)
      }
    }
  }

  /** Runs dispatch with the `routed` event and the client-facing error. */
  async function route<T>(operation: 'chat' | 'embed', model: string, job: Omit<Job<T>, 'attemptsBefore'>) {
    const firstTier = job.ordered[0]?.entry.tier
    const emitRouted = (outcome: 'success' | 'client_error' | 'failed', attempts: number, fallback: boolean, entry?: ProviderEntry) =>
      app.events.emit('routed', { requestId: job.rctx.requestId, operation, model, outcome, provider: entry?.name, tier: entry?.tier, firstTier, attempts, fallback })
    try {
      const call = await dispatch(deps, { ...job, attemptsBefore: 0 })
      emitRouted('success', call.attempts, call.failures.length > 0 || call.candidate !== job.ordered[0], call.candidate.entry)
      return call
    } catch (err) {
      if (!(err instanceof DispatchError)) throw err
      const outcome = err.failure.stop === 'client_left' || err.failure.stop === 'relay_client_fault' ? 'client_error' : 'failed'
      emitRouted(outcome, err.attempts, err.failures.length > 0)
      throw gatewayError(err, model)
    }
  }

  const hedgeMs = (entry: ProviderEntry) => entry.settings.hedgeFirstByteMs ?? streaming.hedgeFirstByteMs
  const affinity = () => (app.hasDecorator('affinity') ? (app as unknown as { affinity: Affinity }).affinity : undefined)
  /**
   * Affinity only chooses among candidates and keys: with a single candidate holding at most
   * one key a pin cannot change the route, so neither the lookup nor the record (a canonical
   * JSON and a SHA-256 of the messages, ~3 % of a request) is made for it (issue 14).
   */
  const affinityFor = (all: Candidate[]) => (all.length > 1 || all[0].entry.keys.size > 1 ? affinity() : undefined)

  const router: Router = {
    candidates: (model) => orderCandidates(resolveCandidates(model, app.providers, routing.aliases), turn),

    async chat(req, rctx) {
      const stream = req.stream === true
      const includeUsage = req.stream_options?.include_usage === true
      const { upstreamReq, requested } = withoutOwnFallbacks(req)
      let all = resolveCandidates(requested, app.providers, routing.aliases)
      // A model no catalog has: the catalogs may be stale (plugins/discovery.ts, rate-limited).
      if (all.length === 0 && await app.discovery.refreshForUnknownModel(req.model)) all = resolveCandidates(requested, app.providers, routing.aliases)
      if (all.length === 0) throw app.discovery.notFound(req.model)
      const pins = affinityFor(all)
      const sticky = pins === undefined ? undefined : await pins.lookup(req, rctx).catch(() => undefined)
      const ordered = orderCandidates(all, turn++, sticky?.provider)
      const common = {
        stream, rctx, ordered,
        skipReason: (entry: ProviderEntry) => entry.provider.cannotServe?.(upstreamReq),
        hedgeMs,
        preferKey: (c: Candidate) => (c.entry.name === sticky?.provider ? sticky.key : undefined),
      }
      const recordAffinity = (entry: ProviderEntry, key: string) => {
        if (!pins) return
        const result = !sticky ? 'none' : sticky.provider === entry.name && sticky.key === key ? 'followed' : 'moved'
        app.events.emit('affinity', { result })
        void pins.record(req, rctx, { provider: entry.name, key })
      }

      if (!stream) {
        const call = await route<ChatCompletion>('chat', req.model, {
          ...common,
          operation: 'chat',
          dispose: () => undefined,
          settle: async (c, ctx) => {
            const result = await c.entry.provider.chat({ ...upstreamReq, model: c.model }, ctx)
            if (isStream(result)) throw new UpstreamError('malformed', 'the provider streamed a non-stream request')
            return result
          },
        })
        call.attempt.release()
        const { entry } = call.candidate
        entry.health.recordSuccess(call.firstByteMs)
        if (call.value.usage) app.events.emit('usage', { provider: entry.name, tier: entry.tier, usage: call.value.usage })
        recordAffinity(entry, call.keyFingerprint)
        return { stream: false, value: call.value, provider: entry.name, tier: entry.tier, attempts: call.attempts }
      }

      const open = (request: ChatRequest) => async (c: Candidate, ctx: Parameters<Job<OpenedStream>['settle']>[1], attempt: Parameters<Job<OpenedStream>['settle']>[2]) => {
        attempt.armFirstByte(ctx.timeouts.firstByteMs)
        const result = await c.entry.provider.chat({ ...request, model: c.model }, ctx)
        const opened = await openStream(isStream(result) ? result : fromArray(completionToChunks(result, includeUsage)))
        attempt.disarmFirstByte()
        return opened
      }
      const streamJob = {
        ...common,
        operation: 'chat' as const,
        dispose: (opened: OpenedStream) => void opened.iterator.return?.().catch(() => undefined),
      }
      const call = await route<OpenedStream>('chat', req.model, { ...streamJob, settle: open(upstreamReq) })
      recordAffinity(call.candidate.entry, call.keyFingerprint)
      const answer = streaming.resume ? new ResumableAnswer(upstreamReq, { holdToolCalls: streaming.toolCalls === 'held' }) : undefined
      const value = closeIfNeverRead(continuedStream({
        app, rctx, answer, first: call, all, redact,
        attemptsSoFar: call.attempts,
        deps,
        continuationJob: (ordered) => ({
          ...streamJob,
          ordered,
          strategyFor: (c) => prefill.strategyFor(c.entry),
          prefillRejected: (c) => prefill.rejected(c.entry, rctx.log),
          settle: (c, ctx, attempt, strategy) => open(answer!.continuation(strategy ?? 'instruction'))(c, ctx, attempt),
        }),
        order: (candidates) => orderCandidates(candidates, turn++),
      }), call)
      return { stream: true, value, provider: call.candidate.entry.name, tier: call.candidate.entry.tier, attempts: call.attempts }
    },

    async embed(req, rctx) {
      let all = resolveCandidates(req.model, app.providers, routing.aliases)
      if (all.length === 0 && await app.discovery.refreshForUnknownModel(req.model)) all = resolveCandidates(req.model, app.providers, routing.aliases)
      if (all.length === 0) throw app.discovery.notFound(req.model)
      const call = await route<EmbeddingResponse>('embed', req.model, {
        operation: 'embed', stream: false, rctx, ordered: orderCandidates(all, turn++),
        skipReason: (entry) => (entry.provider.embed ? undefined : 'does not support embeddings'),
        hedgeMs: () => 0,
        dispose: () => undefined,
        settle: (c, ctx) => c.entry.provider.embed!({ ...req, model: c.model }, ctx),
      })
      call.attempt.release()
      call.candidate.entry.health.recordSuccess(call.firstByteMs)
      return { value: call.value, provider: call.candidate.entry.name, tier: call.candidate.entry.tier, attempts: call.attempts }
    },
  }
  app.decorate('router', router)
}, { name: 'router', dependencies: ['registry', 'events'] })
