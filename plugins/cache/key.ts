// What makes two chat requests "the same" for the response cache, and whether one may be
// cached at all. Pure functions: no I/O, table-tested in test/fleet/cache-key.test.ts.
import { createHash } from 'node:crypto'
import { NATIVE, type ChatRequest } from '../../providers/contract.ts'

/**
 * Fields that never change the answer: how it is delivered (stream, stream_options), who asks
 * (user: end-user ids would split the cache per end user for nothing), and which stored
 * conversation it belongs to (session_id: the history is already in `messages`).
 */
const DELIVERY_FIELDS = new Set(['stream', 'stream_options', 'user', 'session_id', 'metadata', 'store'])

export type CacheDecision =
  | { cacheable: true }
  | { cacheable: false; reason: 'off' | 'client_bypass' | 'nondeterministic' }

export interface CachePolicy {
  ttlMs: number
  nondeterministic: boolean
}

type Headers = Record<string, string | string[] | undefined>

const headerValue = (headers: Headers, name: string) => {
  const value = headers[name]
  return (Array.isArray(value) ? value.join(',') : value ?? '').toLowerCase()
}

/** `cache-control: no-cache` / `no-store`, or `x-tiergate-cache: bypass`. */
export function clientBypass(headers: Headers): boolean {
  const control = headerValue(headers, 'cache-control')
  return /(?:^|[\s,])no-(?:cache|store)(?:$|[\s,=])/.test(control) || headerValue(headers, 'x-tiergate-cache').trim() === 'bypass'
}

/**
 * Temperature absent means the provider's default, which is above 0 for every provider
 * tiergate knows (OpenAI, Anthropic, Groq: 1): such an answer is a sample, not *the* answer,
 * and replaying it is a choice the operator makes with CACHE_NONDETERMINISTIC=1.
 */
export function cacheDecision(req: ChatRequest, bypass: boolean, policy: CachePolicy): CacheDecision {
  if (policy.ttlMs <= 0) return { cacheable: false, reason: 'off' }
  if (bypass) return { cacheable: false, reason: 'client_bypass' }
  const temperature = typeof req.temperature === 'number' ? req.temperature : nativeTemperature(req)
  if (!policy.nondeterministic && (temperature === undefined || temperature > 0)) return { cacheable: false, reason: 'nondeterministic' }
  return { cacheable: true }
}

function nativeTemperature(req: ChatRequest): number | undefined {
  const value = req[NATIVE]?.body.temperature
  return typeof value === 'number' ? value : undefined
}

/** JSON with object keys sorted, so that key order in the client's body does not matter. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

function withoutDelivery(body: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) if (!DELIVERY_FIELDS.has(k)) kept[k] = v
  return kept
}

/**
 * The normalised request: every answer-shaping field (model after alias resolution, messages,
 * tools, sampling, response format, and anything tiergate does not model) — the whole body
 * minus the delivery fields. A native passthrough's own body (NATIVE) is part of it, since its
 * extra fields reach the upstream. The partition (the gateway key id) comes first, so that one
 * tenant can never read another's answer, and is kept readable for operators.
 */
export function cacheKey(req: ChatRequest, aliases: Map<string, string[]>, partition: string | undefined): string {
  const { model, ...rest } = withoutDelivery(req) as ChatRequest
  const native = req[NATIVE]
  const normalised = {
    model: aliases.get(model) ?? [model],
    request: rest,
    native: native ? { dialect: native.dialect, body: withoutDelivery({ ...native.body, model: undefined }) } : undefined,
  }
  const digest = createHash('sha256').update(canonicalJson(normalised)).digest('hex').slice(0, 32)
  return `${partition ?? 'anonymous'}:${digest}`
}
