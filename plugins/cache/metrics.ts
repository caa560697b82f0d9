// The response cache's Prometheus metrics, registered on the app's own registry (plugins/metrics.ts).
import { Counter, Gauge, type Registry } from 'prom-client'
import type { StoreStats } from './store.ts'
import type { Coalescer } from '../coalesce.ts'

export interface CacheMetrics {
  requests: Counter<'result'>
  coalesced: Counter
  fellBack: Counter
}

export function registerCacheMetrics(registry: Registry, stats: () => StoreStats, flights: Coalescer): CacheMetrics {
  const registers = [registry]
  new Gauge({
    name: 'tiergate_cache_bytes',
    help: 'Response cache size in bytes (memory store: held now; Redis store: written by this instance).',
    registers,
    collect() { this.set(stats().bytes) },
  })
  new Gauge({
    name: 'tiergate_cache_entries',
    help: 'Answers held by the in-memory response cache (-1 with the Redis store).',
    registers,
    collect() { this.set(stats().entries) },
  })
  new Counter({
    name: 'tiergate_cache_evictions_total',
    help: 'Answers the in-memory response cache dropped to stay within CACHE_MAX_ENTRIES / CACHE_MAX_BYTES.',
    registers,
    collect() {
      this.reset()
      this.inc(stats().evictions)
    },
  })
  new Gauge({
    name: 'tiergate_cache_flights',
    help: 'Upstream calls in progress that identical requests are waiting on (coalescing).',
    registers,
    collect() { this.set(flights.size) },
  })
  return {
    requests: new Counter({
      name: 'tiergate_cache_requests_total',
      help: 'Chat requests seen by the response cache, by result: hit, miss (answered upstream) or bypass (not cacheable, or the client asked).',
      labelNames: ['result'] as const,
      registers,
    }),
    coalesced: new Counter({
      name: 'tiergate_cache_coalesced_total',
      help: 'Requests answered by an identical request\'s upstream call instead of their own.',
      registers,
    }),
    fellBack: new Counter({
      name: 'tiergate_cache_coalesce_fallbacks_total',
      help: 'Coalesced requests whose leader failed, so they called upstream on their own.',
      registers,
    }),
  }
}
