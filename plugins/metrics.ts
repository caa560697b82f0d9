// Decorates `app.metrics`: a prom-client Registry owned by this app (never prom-client's global
// one: tests and embedders run several apps in one process) holding tiergate's metrics, fed by
// `app.events` and an onResponse hook, plus the standard process_* / nodejs_* metrics.
// Depends on `events` (what happened upstream) and `registry` (breaker state, read at scrape).
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import type { BreakerState } from './registry.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { registry: Registry }
  }
}

/** Gauge values of `tiergate_breaker_state` (documented in its help text and the README). */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 }

// Upstream latency: fast local models answer in tens of ms, slow free tiers in tens of seconds.
const LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160]
// Whole HTTP requests: same range, since a stream's request lasts as long as the stream.
export const REQUEST_BUCKETS_S = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

/** Route pattern, never the raw URL: ids in paths would make a series per request. */
const UNMATCHED_ROUTE = 'unmatched'

function gatewayMetrics(app: FastifyInstance, registry: Registry) {
  const registers = [registry]
  const requests = new Counter({
    name: 'tiergate_http_requests_total',
    help: 'HTTP requests answered by the gateway, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  })
  const requestDuration = new Histogram({
    name: 'tiergate_http_request_duration_seconds',
    help: 'Time from request to the end of the response (a stream ends with its last chunk).',
    labelNames: ['route', 'method'] as const,
    buckets: REQUEST_BUCKETS_S,
    registers,
  })
  const attempts = new Counter({
    name: 'tiergate_upstream_attempts_total',
    help: 'Upstream calls, by provider, tier and outcome (success or the fault kind).',
    labelNames: ['provider', 'tier', 'outcome'] as const,
    registers,
  })
  const routed = new Counter({
    name: 'tiergate_routed_requests_total',
    help: 'Requests the router finished: outcome success (tier = the tier that answered), client_error or failed (every candidate failed).',
    labelNames: ['operation', 'outcome', 'tier'] as const,
    registers,
  })
  const fallbacks = new Counter({
    name: 'tiergate_fallbacks_total',
    help: 'Answered requests not answered by their first candidate (it failed or was skipped: open breaker, no free key), by the first candidate\'s tier and the tier that answered.',
    labelNames: ['from_tier', 'to_tier'] as const,
    registers,
  })
  const firstByte = new Histogram({
    name: 'tiergate_upstream_first_byte_seconds',
    help: 'Successful attempts: time to the first chunk of a stream, or to the whole JSON answer.',
    labelNames: ['provider', 'tier'] as const,
    buckets: LATENCY_BUCKETS_S,
    registers,
  })
  const duration = new Histogram({
    name: 'tiergate_upstream_duration_seconds',
    help: 'Successful attempts: time to the complete answer (the end of a stream).',
    labelNames: ['provider', 'tier'] as const,
    buckets: LATENCY_BUCKETS_S,
    registers,
  })
  const streams = new Counter({
    name: 'tiergate_streams_total',
    help: 'Committed streams by how they ended: complete, failed (after the first chunk) or aborted (the client left).',
    labelNames: ['provider', 'tier', 'outcome'] as const,
    registers,
  })
  const tokens = new Counter({
    name: 'tiergate_tokens_total',
    help: 'Tokens reported by upstreams, by provider and kind (prompt or completion).',
    labelNames: ['provider', 'kind'] as const,
    registers,
  })
  const breakerTransitions = new Counter({
    name: 'tiergate_breaker_transitions_total',
    help: 'Circuit breaker transitions, by provider and the state entered.',
    labelNames: ['provider', 'state'] as const,
    registers,
  })
  const resumes = new Counter({
    name: 'tiergate_stream_resumes_total',
    help: 'Committed streams that failed mid-answer: outcome resumed (continued on another candidate, by strategy prefill or instruction) or failed (nothing could continue; strategy none).',
    labelNames: ['strategy', 'outcome'] as const,
    registers,
  })
  const rateLimited = new Counter({
    name: 'tiergate_rate_limited_requests_total',
    help: 'Requests refused with 429 because the client went over RATE_LIMIT_MAX.',
    labelNames: ['route'] as const,
    registers,
  })
  new Gauge({
    name: 'tiergate_breaker_state',
    help: 'Circuit breaker state per provider: 0 closed, 1 half-open, 2 open.',
    labelNames: ['provider', 'tier'] as const,
    registers,
    // Read at scrape time, so the gauge is right even for breakers that never changed state.
    collect() {
      this.reset()
      for (const entry of app.providers.list()) {
        // The provider as a whole (provider-wide breaker, or every model breaker it has): plugins/state/breakers.ts.
        this.set({ provider: entry.name, tier: String(entry.tier) }, BREAKER_STATE_VALUE[entry.breakers.summary()])
      }
    },
  })
  new Gauge({
    name: 'tiergate_provider_models',
    help: 'Size of each enabled provider\'s model catalog (catch-all providers report 0).',
    labelNames: ['provider', 'tier'] as const,
    registers,
    collect() {
      this.reset()
      for (const entry of app.providers.list()) this.set({ provider: entry.name, tier: String(entry.tier) }, entry.provider.models().length)
    },
  })

  const affinity = new Counter({
    name: 'tiergate_affinity_total',
    help: 'Requests cache-warm routing could pin (AFFINITY_TTL_MS), by result: none (no pin yet), followed (served by the pinned provider and key), moved (health sent it elsewhere).',
    labelNames: ['result'] as const,
    registers,
  })

  return { requests, requestDuration, attempts, routed, fallbacks, firstByte, duration, streams, tokens, breakerTransitions, rateLimited, resumes, affinity }
}

export default fp(async function metrics(app) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const m = gatewayMetrics(app, registry)
  app.decorate('metrics', { registry })

  app.events.on('attempt', (e) => {
    const tier = String(e.tier)
    m.attempts.inc({ provider: e.provider, tier, outcome: e.outcome })
    if (e.outcome !== 'success') return
    if (e.firstByteMs !== undefined) m.firstByte.observe({ provider: e.provider, tier }, e.firstByteMs / 1000)
    // A JSON answer is complete when it arrives; a stream's total comes with stream_end.
    if (!e.stream) m.duration.observe({ provider: e.provider, tier }, e.latencyMs / 1000)
  })
  app.events.on('stream_end', (e) => {
    const tier = String(e.tier)
    m.streams.inc({ provider: e.provider, tier, outcome: e.outcome })
    if (e.outcome === 'complete') m.duration.observe({ provider: e.provider, tier }, e.durationMs / 1000)
  })
  app.events.on('routed', (e) => {
    m.routed.inc({ operation: e.operation, outcome: e.outcome, tier: e.tier === undefined || e.outcome !== 'success' ? 'none' : String(e.tier) })
    // Same definition as GET /providers' `fallbacks`.
    if (e.outcome === 'success' && e.fallback && e.firstTier !== undefined && e.tier !== undefined) {
      m.fallbacks.inc({ from_tier: String(e.firstTier), to_tier: String(e.tier) })
    }
  })
  app.events.on('usage', (e) => {
    m.tokens.inc({ provider: e.provider, kind: 'prompt' }, e.usage.prompt_tokens ?? 0)
    m.tokens.inc({ provider: e.provider, kind: 'completion' }, e.usage.completion_tokens ?? 0)
  })
  app.events.on('breaker', (e) => m.breakerTransitions.inc({ provider: e.provider, state: e.state }))
  app.events.on('affinity', (e) => m.affinity.inc({ result: e.result }))
  app.events.on('rate_limited', (e) => m.rateLimited.inc({ route: e.route }))
  app.events.on('resume', (e) => m.resumes.inc({ strategy: e.strategy ?? 'none', outcome: e.outcome }))

  // Callback style: no promise per response (issue 14).
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE
    m.requests.inc({ route, method: request.method, status: String(reply.statusCode) })
    m.requestDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000)
    done()
  })
  app.addHook('onClose', async () => registry.clear())
}, { name: 'metrics', dependencies: ['events', 'registry'] })
