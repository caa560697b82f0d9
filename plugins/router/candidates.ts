// Which providers may answer a model, in which order. Pure functions over the registry.
//   The requested model, then the request's own fallbacks (`models: [...]` as OpenRouter's
//   clients send, `fallbacks: [...]` as LiteLLM's), each expanded through MODEL_ALIASES
//   (`fast=groq/llama-3.1-8b|gpt-4o-mini`: targets tried in that order), each target with its
//   own tier order.
//   `<provider>/<model>` tries the pinned provider first (prefix stripped), when the prefix is a
//   registered provider; a provider whose catalog lists the whole id (OpenRouter's
//   `openai/gpt-4o-mini`) stays a candidate after it.
//   Inside a (target, tier): closed breakers (of that provider *for that model*) before
//   half-open, reachable before unreachable, then health buckets, round-robin inside a bucket.
//   One ordering in PROBE_EVERY ignores the health buckets, so a demoted provider is still tried
//   now and then: its stats stay current and it wins its traffic back once it recovers.
import type { ProviderEntry, ProviderRegistry } from '../registry.ts'
import { catalogHas } from '../../providers/catalog-index.ts'

export interface Candidate {
  entry: ProviderEntry
  /** The model name sent upstream (pin prefix stripped). */
  model: string
  /** Position of the model (alias target or per-request fallback) this candidate serves. */
  targetIndex: number
  /** Chosen by a `<provider>/` prefix: first in its target. */
  pinned: boolean
}

/** Requested model first, then per-request fallbacks, each once. */
export function requestedModels(model: string, fallbacks: readonly string[] = []): string[] {
  return [...new Set([model, ...fallbacks])]
}

export function resolveCandidates(models: string | readonly string[], registry: ProviderRegistry, aliases: Map<string, string[]>): Candidate[] {
  // Loops, no intermediate lists or key strings: this runs on every request (issue 14).
  const candidates: Candidate[] = []
  let targetIndex = 0
  const addTarget = (target: string) => {
    const slash = target.indexOf('/')
    const pinned = slash > 0 ? registry.get(target.slice(0, slash)) : undefined
    if (pinned) add(candidates, { entry: pinned, model: target.slice(slash + 1), targetIndex, pinned: true })
    for (const entry of registry.list()) {
      // A pinned id is matched by catalogs that list it whole, not by catch-alls.
      if ((!pinned && entry.provider.catchAll) || catalogHas(entry.provider.models(), target)) add(candidates, { entry, model: target, targetIndex, pinned: false })
    }
    targetIndex++
  }
  for (const model of typeof models === 'string' ? [models] : models) {
    const expanded = aliases.get(model)
    if (expanded === undefined) addTarget(model)
    else for (const target of expanded) addTarget(target)
  }
  return candidates
}

/** Adds `c` unless its provider already serves its model earlier in the list (a handful of candidates: a scan). */
function add(candidates: Candidate[], c: Candidate): void {
  for (const other of candidates) if (other.entry.name === c.entry.name && other.model === c.model) return
  candidates.push(c)
}

/** Could this candidate still take an attempt now (breakers not open for its model, a key free)? */
export const couldAnswer = (c: Candidate) => c.entry.breakers.stateFor(c.model) !== 'open' && c.entry.keys.hasAvailable(c.model)

const BREAKER_RANK = { closed: 0, half_open: 1, open: 2 } as const
/** Providers within this factor of the best penalty in their tier share traffic round-robin. */
const HEALTH_BUCKET_FACTOR = 2
/** Every PROBE_EVERY-th ordering is a probe: round-robin by breaker state only. */
export const PROBE_EVERY = 10

function healthBucket(entry: ProviderEntry, best: number, fallbackLatencyMs: number): number {
  const ratio = entry.health.penalty(fallbackLatencyMs) / Math.max(best, 1)
  return ratio <= HEALTH_BUCKET_FACTOR ? 0 : Math.min(8, Math.floor(Math.log2(ratio)))
}

/** Group order: target, then the pinned provider, then tier — compared as numbers. */
function groupRank(c: Candidate): [number, number, number] {
  return [c.targetIndex, c.pinned ? 0 : 1, c.entry.tier]
}

/**
 * Order candidates; `turn` rotates equals so that no provider takes all the traffic.
 * `prefer` (cache affinity) moves that provider first inside its group when its breaker is closed.
 */
export function orderCandidates(candidates: Candidate[], turn: number, prefer?: string): Candidate[] {
  // One candidate is its own order (one group of one): no groups, ranks or sorts to build.
  if (candidates.length <= 1) return candidates.slice()
  const groups = new Map<string, { rank: [number, number, number]; members: Candidate[] }>()
  for (const c of candidates) {
    const rank = groupRank(c)
    const key = rank.join('|')
    const group = groups.get(key)
    if (group) group.members.push(c)
    else groups.set(key, { rank, members: [c] })
  }
  const sortedGroups = [...groups.values()].sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.rank[2] - b.rank[2])
  const ordered: Candidate[] = []
  for (const { members: group } of sortedGroups) {
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
      BREAKER_RANK[c.entry.breakers.stateFor(c.model)],
      c.entry.provider.liveScore?.() === 0 ? 1 : 0,
      probe ? 0 : healthBucket(c.entry, best, fallbackLatency),
    ]
    rotated.sort((a, b) => {
      const ra = rank(a)
      const rb = rank(b)
      return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2]
    })
    const preferred = rotated.findIndex((c) => c.entry.name === prefer && c.entry.breakers.stateFor(c.model) === 'closed')
    if (preferred > 0) rotated.unshift(...rotated.splice(preferred, 1))
    ordered.push(...rotated)
  }
  return ordered
}
