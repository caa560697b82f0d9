// The response cache's Prometheus metrics, registered on the app's own registry (plugins/metrics.ts).
import { Counter, Gauge, type Registry } from 'prom-client'
import type { StoreStats } from './store.ts'
import type { Coalescer } from '../coalesce.ts'

export interface CacheMetrics {
  requests: Counter<'result'>
  coalesced: Counter
  relayed: Counter
  fellBack: Counter
}

export function registerCacheMetrics(registry: Registry, stats: () => StoreStats, flights: Coalescer): CacheMetrics {
  const registers = [registry]
  new Gauge({
    name: 'tiergate_cache_bytes',
    help: 'Response cache size in bytes (memory store: held now; Redis store: written there by this instance; its outage copy is tiergate_cache_local_bytes).',
    registers,
    collect() { this.set(stats().bytes) },
  })
  new Gauge({
    name: 'tiergate_cache_entries',
    help: 'Answers held by the in-memory response cache (-1 with the Redis store; its outage copy is tiergate_cache_local_entries).',
    registers,
    collect() { this.set(stats().entries) },
  })
  new Counter({
    name: 'tiergate_cache_evictions_total',
    help: 'Answers the in-memory response cache (with Redis: its outage copy) dropped to stay within CACHE_MAX_ENTRIES / CACHE_MAX_BYTES.',
    registers,
    collect() {
      this.reset()
      this.inc(stats().evictions)
    },
  })
  if (stats().local) registerLocalGauges(registers, stats)
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
    relayed: new Counter({
      name: 'tiergate_cache_relayed_total',
      help: 'Streamed requests that read another instance\'s upstream call live, relayed through Redis, instead of their own.',
      registers,
    }),
    fellBack: new Counter({
      name: 'tiergate_cache_coalesce_fallbacks_total',
      help: 'Coalesced requests whose leader failed, so they called upstream on their own.',
      registers,
    }),
  }
}

/** The Redis store's outage copy (plugins/cache/fallback-store.ts): what this instance alone is serving from. */
function registerLocalGauges(registers: Registry[], stats: () => StoreStats): void {
  new Gauge({
    name: 'tiergate_cache_local',
    help: '1 while Redis fails and the response cache serves from this instance\'s memory (CACHE_MAX_ENTRIES / CACHE_MAX_BYTES), 0 while Redis serves.',
    registers,
    collect() { this.set(stats().local!.active ? 1 : 0) },
  })
  new Gauge({
    name: 'tiergate_cache_local_entries',
    help: 'Answers this instance kept in memory during a Redis outage (dropped, not copied, when Redis is back).',
    registers,
    collect() { this.set(stats().local!.entries) },
  })
  new Gauge({
    name: 'tiergate_cache_local_bytes',
    help: 'Bytes of the answers this instance kept in memory during a Redis outage.',
    registers,
    collect() { this.set(stats().local!.bytes) },
  })
}
