// Decorates `app.discovery`: catalog discovery for every registered provider, so that catalogs
// follow reality. At start each provider is discovered once (bounded by DISCOVERY_TIMEOUT_MS,
// before the server listens); then, per provider, one timer: every MODELS_REFRESH_MS while it
// answers, and soon — DISCOVERY_RETRY_MIN_MS doubling up to DISCOVERY_RETRY_MAX_MS — while it
// is unreachable (Ollama started after the gateway, a model pulled later). A request naming a
// model no catalog has may trigger one refresh per provider per DISCOVERY_ON_DEMAND_INTERVAL_MS
// (a flood of unknown names cannot hammer upstreams). Each provider's last error is kept for
// /providers and the status page. MODELS_REFRESH_MS=0 turns the timers off (on-demand stays).
// Depends on `registry`; closes its timers on close.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { ProviderEntry } from './registry.ts'
import { modelNotFound, type GatewayError } from './errors.ts'
import { createRedactor, redactThenCut } from './redact.ts'
import { UpstreamError } from '../providers/upstream-error.ts'
import { firstRunHint, canAnswerAnything } from './startup-summary.ts'

/** lastError reaches /providers, the status page and the start summary: redacted and bounded. */
const LAST_ERROR_MAX_CHARS = 300

export interface DiscoveryStatus {
  lastRefreshAt: string | null
  /** Why the last discovery failed (or which part was unreachable); null after a success. */
  lastError: string | null
  consecutiveFailures: number
  /** When the next background discovery runs (null: none scheduled). */
  nextAt: string | null
}

export interface Discovery {
  /** Re-discover one provider now; true when it answered. Concurrent calls share one refresh. */
  refresh(entry: ProviderEntry): Promise<boolean>
  refreshAll(): Promise<void>
  /**
   * A request named a model no catalog has: refresh the providers that may have learnt it
   * since (each at most once per DISCOVERY_ON_DEMAND_INTERVAL_MS). True when some catalog
   * has it now (the router then resolves the model again).
   */
  refreshForUnknownModel(model: string): Promise<boolean>
  /** The 404 for a model nobody serves; when nothing can answer anything it says what to do. */
  notFound(model: string): GatewayError
  status(name: string): DiscoveryStatus
}

declare module 'fastify' {
  interface FastifyInstance {
    discovery: Discovery
  }
}

interface State {
  lastRefreshAt: string | undefined
  lastError: string | undefined
  failures: number
  nextAt: number | undefined
  lastOnDemandAt: number
  discoveries: number
  inFlight: Promise<boolean> | undefined
  timer: NodeJS.Timeout | undefined
}

/** The delay before the next background discovery: the interval while healthy, back-off while not. */
export function nextDiscoveryDelayMs(failures: number, limits: { refreshMs: number; retryMinMs: number; retryMaxMs: number }): number {
  if (failures === 0) return limits.refreshMs
  const backoff = Math.min(limits.retryMaxMs, limits.retryMinMs * 2 ** (failures - 1))
  // Never later than the healthy interval: an unreachable provider is looked at at least as often.
  return Math.min(backoff, limits.refreshMs)
}

/**
 * Parts of a provider that discovery could not reach although refresh() did not throw
 * (Ollama keeps its remote side when the local server is down): status() objects with
 * `reachable: false`.
 */
export function unreachableParts(details: Record<string, unknown>): string[] {
  const parts: string[] = []
  for (const [name, value] of Object.entries(details)) {
    const part = value as { reachable?: unknown; baseUrl?: unknown } | null
    if (part && typeof part === 'object' && part.reachable === false) {
      parts.push(typeof part.baseUrl === 'string' ? `${name} (${part.baseUrl}) unreachable` : `${name} unreachable`)
    }
  }
  return parts
}

export default fp(async function discovery(app: FastifyInstance) {
  const { routing } = app.config
  const redact = createRedactor(app.config.secrets)
  const states = new Map<string, State>()
  let closed = false

  const stateOf = (name: string): State => {
    let state = states.get(name)
    if (!state) {
      state = { lastRefreshAt: undefined, lastError: undefined, failures: 0, nextAt: undefined, lastOnDemandAt: 0, discoveries: 0, inFlight: undefined, timer: undefined }
      states.set(name, state)
    }
    return state
  }

  /**
   * Discovery takes keys from the pool as requests do: the least recently used key that is not
   * out for a 401/403. A key the upstream rejects is taken out (as a request would) and the next
   * one tried, so a revoked key #1 does not leave the catalog empty while key #2 works.
   */
  async function refreshWithPoolKeys(entry: ProviderEntry, signal: AbortSignal): Promise<void> {
    for (let tries = 0; tries < entry.keys.size; tries++) {
      const lease = entry.keys.acquireForDiscovery()
      if (!lease) throw new Error('every key of this provider was rejected (401/403)')
      try {
        await entry.provider.refresh!(signal, lease.key)
        return
      } catch (err) {
        if (!(err instanceof UpstreamError) || err.kind !== 'auth' || lease.key === undefined) throw err
        const fingerprint = entry.keys.authFailed(lease.key)
        app.log.error({ provider: entry.name, key: fingerprint, status: err.status }, 'catalog discovery: the upstream rejected a key; it is out for KEY_AUTH_COOLDOWN_MS')
        if (tries === entry.keys.size - 1) throw err
      }
    }
  }

  async function discover(entry: ProviderEntry, state: State): Promise<boolean> {
    const signal = AbortSignal.timeout(routing.discoveryTimeoutMs)
    let error: string | undefined
    try {
      await refreshWithPoolKeys(entry, signal)
      const parts = unreachableParts(entry.provider.status?.() ?? {})
      if (parts.length) error = redactThenCut(parts.join('; '), LAST_ERROR_MAX_CHARS, redact)
      state.lastRefreshAt = new Date().toISOString()
      entry.lastRefreshAt = state.lastRefreshAt
    } catch (err) {
      error = redactThenCut(signal.aborted ? `no answer within DISCOVERY_TIMEOUT_MS (${routing.discoveryTimeoutMs} ms)` : String((err as Error)?.message ?? err), LAST_ERROR_MAX_CHARS, redact)
    }
    const wasFailing = state.failures > 0
    const first = state.discoveries++ === 0
    state.lastError = error
    state.failures = error === undefined ? 0 : state.failures + 1
    // An unreachable upstream is normal at start (debug; the start summary shows it); a provider
    // that answered and then stopped is worth a warning.
    if (error !== undefined && !wasFailing && !first) app.log.warn({ provider: entry.name, err: error }, 'catalog discovery failed; retrying with back-off')
    else if (error !== undefined) app.log.debug({ provider: entry.name, err: error }, 'catalog discovery failed')
    else if (wasFailing) app.log.info({ provider: entry.name, models: entry.provider.models().length }, 'catalog discovered again')
    return error === undefined
  }

  function schedule(entry: ProviderEntry, state: State): void {
    clearTimeout(state.timer)
    state.timer = undefined
    state.nextAt = undefined
    if (closed || routing.modelsRefreshMs === 0) return
    const delay = nextDiscoveryDelayMs(state.failures, { refreshMs: routing.modelsRefreshMs, retryMinMs: routing.discoveryRetryMinMs, retryMaxMs: routing.discoveryRetryMaxMs })
    state.nextAt = Date.now() + delay
    state.timer = setTimeout(() => void api.refresh(entry), delay)
    state.timer.unref()
  }

  const api: Discovery = {
    refresh(entry) {
      if (!entry.provider.refresh) return Promise.resolve(true)
      const state = stateOf(entry.name)
      state.inFlight ??= discover(entry, state).finally(() => {
        state.inFlight = undefined
        schedule(entry, state)
      })
      return state.inFlight
    },

    async refreshAll() {
      await Promise.all(app.providers.list().map((entry) => api.refresh(entry)))
    },

    async refreshForUnknownModel(model) {
      const now = Date.now()
      const slash = model.indexOf('/')
      const pinned = slash > 0 ? app.providers.get(model.slice(0, slash)) : undefined
      const bare = pinned ? model.slice(slash + 1) : model
      const due = (pinned ? [pinned] : app.providers.list()).filter((entry) => {
        if (!entry.provider.refresh || entry.provider.catchAll) return false
        const state = stateOf(entry.name)
        if (now - state.lastOnDemandAt < routing.discoveryOnDemandIntervalMs) return false
        state.lastOnDemandAt = now
        return true
      })
      if (due.length === 0) return false
      await Promise.all(due.map((entry) => api.refresh(entry)))
      return due.some((entry) => entry.provider.models().includes(bare))
    },

    notFound(model) {
      const views = app.providers.list().map((entry) => ({ name: entry.name, catchAll: entry.provider.catchAll === true, models: entry.provider.models().length }))
      return canAnswerAnything(views) ? modelNotFound(model) : modelNotFound(model, firstRunHint())
    },

    status(name) {
      const state = stateOf(name)
      return {
        lastRefreshAt: state.lastRefreshAt ?? null,
        lastError: state.lastError ?? null,
        consecutiveFailures: state.failures,
        nextAt: state.nextAt === undefined ? null : new Date(state.nextAt).toISOString(),
      }
    },
  }
  app.decorate('discovery', api)

  // Start-up waits for discovery at most DISCOVERY_TIMEOUT_MS; unreachable upstreams fail fast.
  app.addHook('onReady', async () => {
    await api.refreshAll()
  })
  app.addHook('onClose', async () => {
    closed = true
    for (const state of states.values()) clearTimeout(state.timer)
    await Promise.all([...states.values()].map((s) => s.inFlight?.catch(() => undefined)))
  })
}, { name: 'discovery', dependencies: ['registry'] })
