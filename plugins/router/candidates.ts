// Which providers may answer a model, in which order. Pure functions over the registry.
//   MODEL_ALIASES: `fast=groq/llama-3.1-8b|gpt-4o-mini` — targets tried in that order.
//   `<provider>/<model>` pins one provider, but only when the prefix is a registered provider,
//   so OpenRouter ids such as `meta-llama/llama-3-8b` still match by catalog.
//   Inside a (target, tier): closed breakers before half-open, reachable before unreachable,
//   then health buckets, round-robin inside a bucket. One ordering in PROBE_EVERY ignores the
//   health buckets, so a demoted provider is still tried now and then: its stats stay current
//   and it wins its traffic back once it recovers (else it would be demoted forever).
import type { ProviderEntry, ProviderRegistry } from '../registry.ts'
import { breakerState } from '../registry.ts'

export interface Candidate {
  entry: ProviderEntry
  /** The model name sent upstream (pin prefix stripped). */
  model: string
  /** Position of the alias target this candidate serves (0 without aliases). */
  targetIndex: number
}

export function resolveCandidates(model: string, registry: ProviderRegistry, aliases: Map<string, string[]>): Candidate[] {
  const targets = aliases.get(model) ?? [model]
  const seen = new Set<string>()
  const candidates: Candidate[] = []
  targets.forEach((target, targetIndex) => {
    const slash = target.indexOf('/')
    const pinned = slash > 0 ? registry.get(target.slice(0, slash)) : undefined
    const matches = pinned
      ? [{ entry: pinned, model: target.slice(slash + 1) }]
      : registry.list()
          .filter((entry) => entry.provider.catchAll || entry.provider.models().includes(target))
          .map((entry) => ({ entry, model: target }))
    for (const match of matches) {
      const key = `${match.entry.name}\u0000${match.model}`
      if (seen.has(key)) continue
      seen.add(key)
      candidates.push({ ...match, targetIndex })
    }
  })
  return candidates
}

/** Could this candidate still take an attempt now (breaker not open, a key free)? */
export const couldAnswer = (c: Candidate) => breakerState(c.entry.breaker) !== 'open' && c.entry.keys.hasAvailable()

const BREAKER_RANK = { closed: 0, half_open: 1, open: 2 } as const
/** Providers within this factor of the best penalty in their tier share traffic round-robin. */
const HEALTH_BUCKET_FACTOR = 2
/** Every PROBE_EVERY-th ordering is a probe: round-robin by breaker state only. */
export const PROBE_EVERY = 10

function healthBucket(entry: ProviderEntry, best: number, fallbackLatencyMs: number): number {
  const ratio = entry.health.penalty(fallbackLatencyMs) / Math.max(best, 1)
  return ratio <= HEALTH_BUCKET_FACTOR ? 0 : Math.min(8, Math.floor(Math.log2(ratio)))
}

/** Order candidates; `turn` rotates equals so that no provider takes all the traffic. */
export function orderCandidates(candidates: Candidate[], turn: number): Candidate[] {
  const groups = new Map<string, Candidate[]>()
  for (const c of candidates) {
    const key = `${String(c.targetIndex).padStart(4, '0')}|${String(c.entry.tier).padStart(4, '0')}`
    const group = groups.get(key)
    if (group) group.push(c)
    else groups.set(key, [c])
  }
  const ordered: Candidate[] = []
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!
    if (group.length === 1) {
      ordered.push(group[0])
      continue
    }
    const known = group.map((c) => c.entry.health.latencyMs).filter((l): l is number => l !== undefined)
    const fallbackLatency = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1
    const best = Math.min(...group.map((c) => c.entry.health.penalty(fallbackLatency)))
    // Probes rotate on their own count, so that each member of the group gets its turn first.
    const probe = turn % PROBE_EVERY === PROBE_EVERY - 1
    const shift = (probe ? Math.floor(turn / PROBE_EVERY) : turn) % group.length
    const rotated = [...group.slice(shift), ...group.slice(0, shift)]
    const rank = (c: Candidate) => [
      BREAKER_RANK[breakerState(c.entry.breaker)],
      c.entry.provider.liveScore?.() === 0 ? 1 : 0,
      probe ? 0 : healthBucket(c.entry, best, fallbackLatency),
    ]
    rotated.sort((a, b) => {
      const ra = rank(a)
      const rb = rank(b)
      return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2]
    })
    ordered.push(...rotated)
  }
  return ordered
}
