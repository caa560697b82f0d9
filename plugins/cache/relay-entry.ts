// The entries of a flight relay: the Redis Stream through which the instance that holds a
// cache lock hands its streamed answer, live, to followers on other instances. Pure: encoding,
// decoding and the error a follower's client sees. No I/O.
//
// One entry is two fields, `t` (its type) and `d` (JSON). What goes in is what the cache would
// store: the router's output (already secret-scrubbed by plugins/secret-guard.ts, and turned
// into plain JSON, so no adapter symbol — RAW_JSON, NATIVE_WIRE — travels), and for a failure
// only what the leader's own client is shown of it.
import type { ChatChunk } from '../../providers/contract.ts'
import { UpstreamError, type FaultKind } from '../../providers/upstream-error.ts'

export const REDIS_FLIGHT_PREFIX = 'tiergate:flight:'

/**
 * The stream of one leader's call: the cache key (a partition and a digest) and the leader's lock
 * token (random), so a later leader of the same key never writes into a stream someone still reads.
 */
export const flightStreamKey = (cacheKey: string, token: string) => `${REDIS_FLIGHT_PREFIX}${cacheKey}:${token}`

export const REDIS_FLIGHT_FOLLOWED_PREFIX = 'tiergate:flight-followed:'

/** Present (refreshed by each following instance, expiring on its own) while any instance follows the relay of `streamKey`. */
export const flightFollowedKey = (streamKey: string) => REDIS_FLIGHT_FOLLOWED_PREFIX + streamKey.slice(REDIS_FLIGHT_PREFIX.length)

export interface RelayHead {
  provider: string
  tier: number
  attempts: number
}

/** A failure as the stream encoders show it (dialects/*: stream.ts): an UpstreamError's kind, status, code and (redacted) message — or nothing of an error of another kind. */
export interface RelayedError {
  kind?: FaultKind
  status?: number
  upstreamCode?: string
  message?: string
}

/** Why the leader stopped relaying while its own stream went on. */
export type RelayCutReason = 'too_large' | 'relay_failed'

export type RelayEntry =
  | { type: 'head'; head: RelayHead }
  | { type: 'chunks'; chunks: ChatChunk[] }
  | { type: 'end' }
  | { type: 'fail'; error: RelayedError }
  | { type: 'cut'; reason: RelayCutReason }

/** A `chunks` entry's data from chunks serialized one by one (as the leader receives them). */
export const chunksData = (serialized: readonly string[]) => `[${serialized.join(',')}]`

/** The two field values of an entry (`t`, `d`). */
export function encodeEntry(entry: RelayEntry): { type: RelayEntry['type']; data: string } {
  switch (entry.type) {
    case 'head': return { type: 'head', data: JSON.stringify(entry.head) }
    case 'chunks': return { type: 'chunks', data: chunksData(entry.chunks.map((chunk) => JSON.stringify(chunk))) }
    case 'end': return { type: 'end', data: '{}' }
    case 'fail': return { type: 'fail', data: JSON.stringify(entry.error) }
    case 'cut': return { type: 'cut', data: JSON.stringify({ reason: entry.reason }) }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/** An entry read back (XREAD's flat field list), or undefined when it is not one this relay writes. */
export function decodeEntry(fields: readonly string[]): RelayEntry | undefined {
  const type = fieldOf(fields, 't')
  const text = fieldOf(fields, 'd')
  if (type === undefined || text === undefined) return undefined
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  if (type === 'head' && isRecord(data) && typeof data.provider === 'string' && typeof data.tier === 'number' && typeof data.attempts === 'number') {
    return { type, head: { provider: data.provider, tier: data.tier, attempts: data.attempts } }
  }
  if (type === 'chunks' && Array.isArray(data) && data.every((c) => isRecord(c) && Array.isArray(c.choices))) return { type, chunks: data as ChatChunk[] }
  if (type === 'end') return { type }
  if (type === 'fail' && isRelayedError(data)) return { type, error: data }
  if (type === 'cut' && isRecord(data) && (data.reason === 'too_large' || data.reason === 'relay_failed')) return { type, reason: data.reason }
  return undefined
}

/** A failure's fields as the leader writes them, each of its type (they become an UpstreamError the follower's client sees). */
function isRelayedError(data: unknown): data is RelayedError {
  if (!isRecord(data)) return false
  const optional = (value: unknown, type: 'string' | 'number') => value === undefined || typeof value === type
  return optional(data.kind, 'string') && optional(data.message, 'string') && optional(data.upstreamCode, 'string') && optional(data.status, 'number')
}

function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

/** What of a failure may travel: an UpstreamError's message is already redacted at birth and is what the leader's client sees; any other error's text is never shown, so it never leaves. */
export function relayedError(err: unknown): RelayedError {
  if (!(err instanceof UpstreamError)) return {}
  const out: RelayedError = { kind: err.kind, message: err.message }
  if (err.status !== undefined) out.status = err.status
  if (err.upstreamCode !== undefined) out.upstreamCode = err.upstreamCode
  return out
}

/** The failure a follower's stream ends with: the same error event the leader's client got. */
export function errorFromRelay(error: RelayedError, provider: string): Error {
  if (error.kind === undefined || typeof error.message !== 'string') return new Error('the relayed stream failed')
  return new UpstreamError(error.kind, error.message, { status: error.status, upstreamCode: error.upstreamCode, provider })
}

/** A relay that stopped without the answer's end: the follower's client gets an error event, never a clean end. */
export function relayStoppedError(why: RelayCutReason | 'vanished' | 'unreadable', provider: string): UpstreamError {
  const message = {
    too_large: 'the answer relayed from another gateway instance grew past CACHE_MAX_BYTES, so relaying it stopped',
    relay_failed: 'the gateway instance streaming this answer could not relay the rest of it',
    vanished: 'the gateway instance streaming this answer went away before it ended',
    unreadable: 'the answer relayed from another gateway instance could not be read',
  }[why]
  return new UpstreamError('stream_error', message, { provider })
}
