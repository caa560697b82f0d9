// GET /providers — each provider's state for operators and the status page: tier, catalog,
// breaker state and opossum stats, live score, recent latency/error rate, key pool
// (fingerprints only), last error (redacted); plus fallback counts since start (requests
// answered by another candidate than the first, including when the first was skipped).
import type { FastifyInstance } from 'fastify'
import type { DiscoveryStatus } from '../plugins/discovery.ts'
import { Type } from '@sinclair/typebox'
import { breakerState, type ProviderEntry } from '../plugins/registry.ts'
import { isServing } from './ready.ts'

export function providerSnapshot(entry: ProviderEntry, discovery: DiscoveryStatus) {
  const stats = entry.breakers.stats()
  return {
    name: entry.name,
    tier: entry.tier,
    enabled: true,
    catchAll: entry.provider.catchAll === true,
    catalogSize: entry.provider.models().length,
    serving: isServing(entry),
    breaker: {
      // Per model (a model's faults never take the others down) and the whole provider (unreachable).
      state: entry.breakers.summary(),
      provider: breakerState(entry.breaker),
      models: entry.breakers.snapshot(),
      stats: {
        fires: stats.fires, successes: stats.successes, failures: stats.failures, rejects: stats.rejects,
        timeouts: stats.timeouts,
      },
    },
    live: entry.provider.liveScore?.() ?? null,
    health: entry.health.snapshot(),
    keys: entry.keys.status(),
    lastRefreshAt: entry.lastRefreshAt ?? null,
    discovery,
    details: entry.provider.status?.() ?? {},
  }
}

const ProviderStatus = Type.Object({
  name: Type.String(),
  tier: Type.Integer(),
  enabled: Type.Boolean(),
  catchAll: Type.Boolean(),
  catalogSize: Type.Integer(),
  serving: Type.Boolean({ description: 'a catalog (or catch-all) and not every breaker open: what /health/ready counts' }),
  breaker: Type.Object({
    state: Type.Union([Type.Literal('closed'), Type.Literal('half_open'), Type.Literal('open')], { description: 'the provider as a whole: open when it cannot be reached, or when every model it was asked for has an open breaker' }),
    provider: Type.String({ description: 'the whole-provider breaker (connection-level faults: refused, DNS, TLS, connect timeout)' }),
    models: Type.Array(Type.Object({ model: Type.String(), state: Type.String(), failures: Type.Number(), fires: Type.Number() }), { description: 'one breaker per model asked for (per-model faults: 404, 5xx, timeouts, resets, malformed or cut streams)' }),
    stats: Type.Record(Type.String(), Type.Number()),
  }),
  live: Type.Union([Type.Integer(), Type.Null()], { description: 'Ollama-style reachability score: 0 nothing, 1 one catalog, 2 local and remote' }),
  health: Type.Object({}, { additionalProperties: true }),
  keys: Type.Array(Type.Object({ fingerprint: Type.String(), state: Type.String(), availableInMs: Type.Integer(), strikes: Type.Integer(), uses: Type.Integer() })),
  lastRefreshAt: Type.Union([Type.String(), Type.Null()]),
  discovery: Type.Object({
    lastRefreshAt: Type.Union([Type.String(), Type.Null()]),
    lastError: Type.Union([Type.String(), Type.Null()], { description: 'why the last catalog discovery failed (or which part was unreachable); null after a success' }),
    consecutiveFailures: Type.Integer(),
    nextAt: Type.Union([Type.String(), Type.Null()], { description: 'the next background discovery: soon while unreachable (back-off), else after MODELS_REFRESH_MS' }),
  }),
  details: Type.Object({}, { additionalProperties: true }),
})

export default async function providers(app: FastifyInstance) {
  const fallbacks = { total: 0, byTier: {} as Record<string, number> }
  // Streams cut mid-answer and continued on another candidate (or not), since start.
  const resumes = { resumed: 0, failed: 0, byStrategy: {} as Record<string, number>, last: null as null | { at: string; from: string; to: string | null; strategy: string | null; outcome: string } }
  app.events.on('resume', (event) => {
    resumes[event.outcome]++
    if (event.strategy) resumes.byStrategy[event.strategy] = (resumes.byStrategy[event.strategy] ?? 0) + 1
    resumes.last = { at: new Date().toISOString(), from: event.from, to: event.to ?? null, strategy: event.strategy ?? null, outcome: event.outcome }
  })
  app.events.on('routed', (event) => {
    if (event.outcome !== 'success' || event.firstTier === undefined || !event.fallback) return
    fallbacks.total++
    const key = `${event.firstTier}->${event.tier}`
    fallbacks.byTier[key] = (fallbacks.byTier[key] ?? 0) + 1
  })

  app.get('/providers', {
    schema: {
      tags: ['Operations'],
      summary: 'Every enabled provider with its tier, breaker, health and key-pool state',
      response: {
        200: Type.Object({
          providers: Type.Array(ProviderStatus),
          fallbacks: Type.Object({ total: Type.Integer(), byTier: Type.Record(Type.String(), Type.Integer()) }, { description: 'answered requests that did not get their answer from the first candidate (it failed, or was skipped: open breaker, no free key, cannot serve), since start, by first→answering tier' }),
          resumes: Type.Object({
            resumed: Type.Integer(),
            failed: Type.Integer(),
            byStrategy: Type.Record(Type.String(), Type.Integer()),
            last: Type.Union([Type.Object({ at: Type.String(), from: Type.String(), to: Type.Union([Type.String(), Type.Null()]), strategy: Type.Union([Type.String(), Type.Null()]), outcome: Type.String() }), Type.Null()]),
          }, { description: 'streams cut after their first chunk and continued on another candidate (resumed), or that no candidate could continue (failed), since start; `from`/`to` are provider/model' }),
        }),
      },
    },
  }, async () => ({
    providers: app.providers.list().sort((a, b) => a.tier - b.tier || a.name.localeCompare(b.name)).map((entry) => providerSnapshot(entry, app.discovery.status(entry.name))),
    fallbacks,
    resumes,
  }))
}
