// Decorates `app.responseCache`: the pipeline's cache stage (plugins/pipeline.ts calls `wrap`
// around `app.router.chat`). Off unless CACHE_TTL_MS > 0. Exact-match cache of complete
// answers (plugins/cache/key.ts says what "the same request" means), partitioned by gateway
// key, in memory or in Redis (REDIS_URL: shared by every instance; while Redis fails, this
// instance's memory, plugins/cache/fallback-store.ts), with request coalescing
// (plugins/coalesce.ts in one process, plugins/cache/lock.ts across instances: the lock owner
// relays a stream live through Redis — plugins/cache/relay-*.ts — to followers elsewhere).
// Depends on `redis` (the client; may be undefined) and `events`; registers its metrics on
// `app.metrics` when that plugin is registered.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { ChatChunk, ChatCompletion, ChatRequest } from '../providers/contract.ts'
import type { RoutedChat } from './router.ts'
import type { CacheOutcome, PipelineContext, PipelineResult, ResponseCacheStage } from './pipeline.ts'
import { completionToChunks, fromArray } from './router/replay.ts'
import { cacheDecision, cacheKey, clientBypass } from './cache/key.ts'
import { MemoryCacheStore, RedisCacheStore, type CachedAnswer, type CacheStore } from './cache/store.ts'
import { CompletionBuilder, isComplete, isUsageOnly } from './cache/answer.ts'
import { lockOrAwait, type LockOutcome } from './cache/lock.ts'
import { registerCacheMetrics, type CacheMetrics } from './cache/metrics.ts'
import { RedisWithMemoryFallback } from './cache/fallback-store.ts'
import { Coalescer, type Flight, type FlightHead } from './coalesce.ts'
import { RelayWriter } from './cache/relay-writer.ts'
import { RelayReader } from './cache/relay-reader.ts'
import { followRelay } from './cache/relay-follow.ts'
import { flightStreamKey } from './cache/relay-entry.ts'
import { keepRelayedCall } from './cache/relay-decide.ts'
import { OutageLog } from './state/redis-outage.ts'
import { MIN_REDIS_CONNECT_TIMEOUT_MS } from './redis.ts'

export type CacheStatus = CacheOutcome

/** The router's answer, plus what the cache did (undefined when the cache is off). */
export type CachedChat = PipelineResult

export type RouteChat = (req: ChatRequest, ctx?: PipelineContext) => Promise<RoutedChat>

export interface ResponseCache extends ResponseCacheStage {
  readonly enabled: boolean
  readonly store: CacheStore | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    responseCache: ResponseCache
  }
}

/** A stream the client asked without include_usage still gets its usage stored: it is asked for upstream and dropped here. */
async function* withoutUsageChunk(chunks: AsyncGenerator<ChatChunk>): AsyncGenerator<ChatChunk> {
  for await (const chunk of chunks) if (!isUsageOnly(chunk)) yield chunk
}

/** A complete answer, delivered the way this client asked (JSON, or replayed as a stream). */
function deliver(completion: ChatCompletion, req: ChatRequest, routed: { provider: string; tier: number; attempts: number; cache: CacheStatus }): CachedChat {
  if (req.stream !== true) return { ...routed, stream: false, value: completion }
  return { ...routed, stream: true, value: fromArray(completionToChunks(completion, req.stream_options?.include_usage === true)) }
}

const replay = (answer: CachedAnswer, req: ChatRequest, status: CacheStatus): CachedChat =>
  deliver(answer.completion, req, { provider: answer.provider, tier: answer.tier, attempts: 0, cache: status })

export default fp(async function responseCache(app: FastifyInstance) {
  const { cache: config } = app.config
  const enabled = config.ttlMs > 0
  // The key is a partition and a digest (never request text): safe to log.
  const corrupt = (key: string) => app.log.warn({ key }, 'response cache: a stored entry is not a cached answer; served as a miss, the answer replaces it')
  const outage = new OutageLog(app.log, 'response cache')
  const store: CacheStore | undefined = !enabled ? undefined : app.redis ? new RedisWithMemoryFallback(new RedisCacheStore(app.redis, config, corrupt), new MemoryCacheStore(config), outage) : new MemoryCacheStore(config)
  const flights = new Coalescer()
  const bypassing = new Set<string>()
  // The one extra connection a following instance reads relays on: made when first needed.
  let relayReader: RelayReader | undefined
  const reader = () => relayReader ??= new RelayReader(app.redis!, {
    timeoutMs: app.config.redisTimeoutMs,
    connectMs: Math.max(app.config.redisTimeoutMs, MIN_REDIS_CONNECT_TIMEOUT_MS),
    outage,
  })
  app.addHook('onClose', async () => { await relayReader?.close() })
  const metrics: CacheMetrics | undefined = enabled && app.hasDecorator('metrics') ? registerCacheMetrics(app.metrics.registry, () => store!.stats(), flights) : undefined

  async function fill(key: string, completion: ChatCompletion, provider: string, tier: number): Promise<void> {
    if (!isComplete(completion)) return
    // Never throws: with Redis, the store answers from memory when Redis fails (cache/fallback-store.ts).
    await store!.set(key, { completion, provider, tier }, config.ttlMs)
  }

  /** The leader's side: one upstream call (or a cross-instance wait) whose outcome every participant shares. */
  async function lead(flight: Flight, flightKey: string, key: string, req: ChatRequest, rctx: PipelineContext, route: RouteChat): Promise<void> {
    let lock: LockOutcome = { kind: 'alone' }
    let relay: RelayWriter | undefined
    let leaveRelay: (() => void) | undefined
    try {
      // Redis failed on the cache's last call (usually this request's read): a lock attempt would wait out a second deadline.
      if (app.redis && !outage.down) {
        lock = await lockOrAwait(key, { redis: app.redis, store: store!, waitMs: config.lockWaitMs, outage, signal: flight.controller.signal, follow: req.stream === true })
        if (lock.kind === 'answered') {
          flight.resolve({ provider: lock.answer.provider, tier: lock.answer.tier, attempts: 0, completion: lock.answer.completion, fromCache: true })
          return
        }
        if (lock.kind === 'relayed') {
          await followRelay(flight, lock, { reader: reader(), redis: app.redis, lockMs: config.lockWaitMs, outage })
          return
        }
      }
      const upstream = req.stream === true ? { ...req, stream_options: { ...req.stream_options, include_usage: true } } : req
      const routed = await route(upstream, { ...rctx, signal: flight.controller.signal })
      const head = { provider: routed.provider, tier: routed.tier, attempts: routed.attempts }
      if (!routed.stream) {
        flight.resolve({ ...head, completion: routed.value })
        await fill(key, routed.value, routed.provider, routed.tier)
        return
      }
      flight.resolve(head)
      if (lock.kind === 'owned') {
        const owned = lock
        // Followers on other instances are not participants here: the relay holds the call for
        // them, until a heartbeat finds neither a local client nor a follower (then it is aborted,
        // as an in-process flight is when its last participant leaves), or the relay stops.
        const relayHold = new AbortController()
        leaveRelay = flight.join(relayHold.signal)
        const onHeartbeat = (followed: boolean | 'unknown') => {
          if (keepRelayedCall({ localClients: flight.participants - 1, followed }) === 'abort') relayHold.abort()
        }
        relay = new RelayWriter({ redis: app.redis!, streamKey: flightStreamKey(key, owned.token), lockKey: owned.lockKey, token: owned.token, lockMs: config.lockWaitMs, maxBytes: config.maxBytes, outage, release: owned.release, onHeartbeat, onStopped: () => relayHold.abort() }, head)
      }
      const builder = new CompletionBuilder()
      try {
        for await (const chunk of routed.value) {
          builder.add(chunk)
          flight.push(chunk)
          relay?.chunk(chunk)
        }
      } catch (err) {
        flight.fail(err) // a cut stream is never stored
        await relay?.fail(err)
        return
      }
      flight.end()
      await relay?.end()
      await fill(key, builder.build(), routed.provider, routed.tier)
    } catch (err) {
      flight.reject(err)
    } finally {
      leaveRelay?.()
      flights.finish(flightKey, flight)
      if (lock.kind === 'owned') await lock.release()
    }
  }

  /** Any participant's side: the shared answer, or — a follower whose leader failed — its own call. */
  async function take(flight: Flight, req: ChatRequest, rctx: PipelineContext, route: RouteChat, leader: boolean): Promise<CachedChat> {
    const leave = flight.join(rctx.signal)
    let head: FlightHead
    try {
      head = await flight.head
    } catch (err) {
      leave()
      if (leader || rctx.signal.aborted) throw err
      metrics?.fellBack.inc()
      return { ...(await route(req)), cache: 'miss' }
    }
    if (!leader) metrics?.coalesced.inc()
    if (head.relayed) metrics?.relayed.inc()
    const status: CacheStatus = head.fromCache || (!leader && flight.ended) ? 'hit' : 'miss'
    const routed = { provider: head.provider, tier: head.tier, attempts: head.attempts, cache: status }
    if (head.completion) {
      leave()
      return deliver(head.completion, req, routed)
    }
    const chunks = flight.subscribe(leave)
    return { ...routed, stream: true, value: req.stream_options?.include_usage === true ? chunks : withoutUsageChunk(chunks) }
  }

  const cache: ResponseCache = {
    enabled,
    store,
    async chat(req, rctx, route) {
      if (!enabled) return route(req)
      const decision = cacheDecision(req, bypassing.has(rctx.requestId), { ttlMs: config.ttlMs, nondeterministic: config.nondeterministic })
      if (!decision.cacheable) {
        metrics?.requests.inc({ result: 'bypass' })
        return { ...(await route(req)), cache: 'bypass' }
      }
      const key = cacheKey(req, app.config.routing.aliases, rctx.clientKeyId)
      const hit = await store!.get(key)
      if (hit) {
        metrics?.requests.inc({ result: 'hit' })
        return replay(hit, req, 'hit')
      }
      // A JSON and a streamed request for the same answer are separate flights (each leader
      // calls upstream the way its client asked); they share the cache entry afterwards.
      const flightKey = `${key}:${req.stream === true ? 'stream' : 'json'}`
      const existing = flights.find(flightKey)
      if (existing) {
        const result = await take(existing, req, rctx, route, false)
        metrics?.requests.inc({ result: result.cache === 'hit' ? 'hit' : 'miss' })
        return result
      }
      metrics?.requests.inc({ result: 'miss' })
      const flight = flights.start(flightKey)
      const taken = take(flight, req, rctx, route, true)
      void lead(flight, flightKey, key, req, rctx, route)
      return taken
    },
  }
  app.decorate('responseCache', cache)
  // The pipeline hands the cache no request headers; the client's bypass directive is noted
  // here by request id (only for the few requests that send one) and forgotten with the response.
  if (enabled) {
    // Callback style: no promise per request (issue 14).
    app.addHook('onRequest', (request, _reply, done) => {
      if (clientBypass(request.headers)) bypassing.add(request.id)
      done()
    })
    app.addHook('onResponse', (request, _reply, done) => {
      bypassing.delete(request.id)
      done()
    })
  }
  if (enabled) app.log.debug({ store: store!.kind, ttlMs: config.ttlMs }, 'response cache ready')
}, { name: 'response-cache', dependencies: ['redis', 'events'] })
