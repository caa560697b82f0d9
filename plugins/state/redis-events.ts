// How provider health events are kept in Redis: one key per (provider, model, key fingerprint)
// cooldown and per (provider, model) open breaker, holding the event as JSON, expiring exactly
// when the local deadline does. Pure functions (table-tested in test/fleet/redis-events.test.ts).
import type { HealthEvent } from './provider-state.ts'

export const STATE_PREFIX = 'tiergate:state:'
export const STATE_CHANNEL = 'tiergate:state:events'

/** What travels on the channel: the event, and which instance saw it (so it ignores its own). */
export interface StateMessage {
  origin: string
  event: HealthEvent
}

/**
 * The Redis key of the state an event describes. Components are URI-encoded, so that a model
 * name with ':' (Ollama's `llama3:8b`) cannot collide with another key; the key part is a
 * fingerprint (a short hash and the last four characters), never key material.
 */
export function stateKey(e: HealthEvent): string {
  const part = (s: string) => encodeURIComponent(s)
  return e.type === 'cooldown'
    ? `${STATE_PREFIX}cooldown:${part(e.provider)}:${part(e.model)}:${part(e.key)}`
    : `${STATE_PREFIX}breaker:${part(e.provider)}:${part(e.model)}`
}

/** The deadline an event stands for (a closed breaker has none: it ends the open state). */
export function deadlineOf(e: HealthEvent): number | undefined {
  if (e.type === 'cooldown') return e.untilMs
  return e.state === 'open' ? e.untilMs : undefined
}

/** Milliseconds the Redis key lives: until the deadline (at least 1, Redis rejects PX 0). */
export function ttlMs(e: HealthEvent, now: number, defaultBreakerResetMs: number): number | undefined {
  const deadline = deadlineOf(e) ?? (e.type === 'breaker' && e.state === 'open' ? now + defaultBreakerResetMs : undefined)
  if (deadline === undefined) return undefined
  return Math.max(1, Math.round(deadline - now))
}

/** Merging two views of the same state: the later deadline wins (a shorter one never shortens a cooldown). */
export function laterWins(current: HealthEvent | undefined, incoming: HealthEvent): boolean {
  if (!current) return true
  const a = deadlineOf(current)
  const b = deadlineOf(incoming)
  if (b === undefined) return true // a close ends whatever was open
  return a === undefined || b > a
}

export function parseMessage(text: string): StateMessage | undefined {
  try {
    const message = JSON.parse(text) as StateMessage
    const e = message?.event
    if (typeof message.origin !== 'string' || !e || typeof e.provider !== 'string' || typeof e.model !== 'string') return undefined
    if (e.type === 'cooldown' && typeof e.key === 'string' && typeof e.untilMs === 'number' && (e.reason === 'rate_limited' || e.reason === 'auth')) return message
    // A deadline that is not a finite number would arm opossum's half-open timer with NaN: at once.
    if (e.type === 'breaker' && (e.state === 'open' || e.state === 'closed') && (e.untilMs === undefined || Number.isFinite(e.untilMs))) return message
    return undefined
  } catch {
    return undefined
  }
}

// Atomic merge on the Redis side: write (and announce) only if the stored deadline is earlier.
// KEYS[1] = state key; ARGV = message JSON, deadline (ms, '' for a close), TTL ms ('' to delete), channel.
export const MERGE_LUA = `
local current = redis.call('GET', KEYS[1])
if ARGV[2] ~= '' and current then
  local stored = tonumber(string.match(current, '"untilMs":(%d+)'))
  if stored and stored >= tonumber(ARGV[2]) then return 0 end
end
if ARGV[3] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 1
`
