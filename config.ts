// The one place that reads the environment. General variables are declared in ENV_SCHEMA
// below; each provider declares its own (providers/settings.ts, collected from
// providers/builtin.ts) and gets the `<NAME>_*` family from providerSettings(). Everything is
// validated once into a typed Config; a bad value stops start-up with a message naming the
// variable.
//
// Adding a global variable: a named default (units in the name) in DEFAULTS, one line in
// ENV_SCHEMA's section, one field in Config and in loadConfig's return, plus .env.example and
// the README table. Adding a provider variable: its declaration, not this file.
import { Type, type Static, type TProperties } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { BUILTIN_DECLARATIONS } from './providers/builtin.ts'
import { ConfigError, Int, Str, OptStr, list, httpUrl, parseAliases, MAX_TIMER_MS, type ProviderDeclaration, type RawEnv } from './providers/settings.ts'

export { ConfigError, list }
export { ollamaLocalBaseUrl } from './providers/ollama/settings.ts'

// ── DEFAULTS: named, units in the names (DESIGN convention 7) ────────────────────────────
export const DEFAULT_PORT = 8080
export const DEFAULT_BODY_LIMIT_BYTES = 20 * 1024 * 1024 // a few base64 images fit
export const DEFAULT_BREAKER_RESET_MS = 30_000
export const DEFAULT_BREAKER_ROLLING_WINDOW_MS = 10_000
export const DEFAULT_MODELS_REFRESH_MS = 600_000
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 5_000
/** While a provider is unreachable, discovery retries after this, doubling up to the max. */
export const DEFAULT_DISCOVERY_RETRY_MIN_MS = 2_000
export const DEFAULT_DISCOVERY_RETRY_MAX_MS = 60_000
/** A request for an unknown model refreshes a provider at most this often. */
export const DEFAULT_DISCOVERY_ON_DEMAND_INTERVAL_MS = 10_000
export const DEFAULT_TIMEOUT_CONNECT_MS = 5_000
export const DEFAULT_TIMEOUT_FIRST_BYTE_MS = 60_000
export const DEFAULT_TIMEOUT_FIRST_BYTE_MIN_MS = 2_000
export const DEFAULT_TIMEOUT_IDLE_MS = 30_000
export const DEFAULT_TIMEOUT_TOTAL_MS = 600_000
/** Hedged first tokens: off (0) by default — a hedge can double the cost of slow requests. */
export const DEFAULT_HEDGE_FIRST_BYTE_MS = 0
export const DEFAULT_KEY_AUTH_COOLDOWN_MS = 3_600_000
export const DEFAULT_MAX_COOLDOWN_WAIT_MS = 5_000
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000
// Upstream limits (issue 9 items 6, 9, 10).
/** One SSE event or NDJSON line from an upstream; a real chunk is a few KB, a big tool call < 1 MB. */
export const DEFAULT_UPSTREAM_MAX_EVENT_BYTES = 4 * 1024 * 1024
/** One JSON answer from an upstream (a long completion is well under 1 MB). */
export const DEFAULT_UPSTREAM_MAX_BODY_BYTES = 32 * 1024 * 1024
// A whole streamed answer: ~250,000 OpenAI chunks of ~270 bytes, above any model's longest output.
export const DEFAULT_UPSTREAM_MAX_STREAM_BYTES = 64 * 1024 * 1024
/** The longest an upstream's retry-after may cool a key (and the Retry-After tiergate returns). */
export const DEFAULT_MAX_KEY_COOLDOWN_MS = 3_600_000
/** Nesting depth of a request body (objects and arrays); a JSON Schema nests ~10 deep. */
export const DEFAULT_BODY_MAX_DEPTH = 64
export const DEFAULT_SESSION_TTL_MS = 86_400_000
// Hardening (issue 9 items 11–14).
/** Time to receive a whole request (headers and body); never limits the response, so never a stream. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
/** Socket inactivity limit: above TIMEOUT_TOTAL_MS's default, so a slow JSON answer is never cut. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 660_000
export const DEFAULT_AUTH_FAILURE_LIMIT = 30
export const DEFAULT_REDIS_TIMEOUT_MS = 200
export const DEFAULT_SESSION_MAX_BYTES = 1024 * 1024
/** Stored responses live as long as OpenAI keeps them (30 days). */
export const DEFAULT_RESPONSES_TTL_MS = 2_592_000_000
export const DEFAULT_RESPONSES_MAX_COUNT = 10_000
export const DEFAULT_RESPONSES_MAX_BYTES = 64 * 1024 * 1024
/** A committed /v1/messages stream silent this long gets an Anthropic `ping` event. */
export const DEFAULT_MESSAGES_PING_INTERVAL_MS = 10_000
export const DEFAULT_UNKNOWN_PROVIDER_TIER = 10
// Fleet (issue 13): response cache, coalescing, affinity, traces.
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000
export const DEFAULT_CACHE_MAX_BYTES = 64 * 1024 * 1024
/** How long an instance waits for another instance's identical call (and that call's lock TTL). */
export const DEFAULT_CACHE_LOCK_WAIT_MS = 5_000
/** The longest provider prompt-cache lifetime (Anthropic's extended TTL, OpenAI's retention). */
export const DEFAULT_AFFINITY_TTL_MS = 3_600_000

// ── Providers: what their declarations say ───────────────────────────────────────────────
type Declaration = (typeof BUILTIN_DECLARATIONS)[number]
const DECLARATIONS: ReadonlyArray<ProviderDeclaration> = BUILTIN_DECLARATIONS as ReadonlyArray<ProviderDeclaration>

/** Seed 001's tier table: 1 = tried first. */
export const DEFAULT_PROVIDER_PRIORITIES: Record<string, number> = Object.fromEntries(DECLARATIONS.map((d) => [d.name, d.tier]))
/** Providers shipped with tiergate (custom ones come from CUSTOM_PROVIDERS). */
export const BUILTIN_PROVIDERS = DECLARATIONS.map((d) => d.name)
/** Enabled without a key; PROVIDERS_DISABLED turns them off. */
export const KEYLESS_PROVIDERS = new Set(DECLARATIONS.filter((d) => d.keyless).map((d) => d.name))
/** Public defaults of each built-in provider's base URL (`<NAME>_BASE_URL` overrides). */
export const DEFAULT_BASE_URLS: Record<string, string> = Object.fromEntries(
  DECLARATIONS.filter((d) => d.baseUrl !== undefined).map((d) => [d.name, d.baseUrl as string]),
)

// ── ENV_SCHEMA: the general variables, by concern ────────────────────────────────────────
const ENV_SCHEMA = Type.Object({
  // Server
  HOST: Str('127.0.0.1'),
  PORT: Int(DEFAULT_PORT, 0, 65535),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  BODY_LIMIT_BYTES: Int(DEFAULT_BODY_LIMIT_BYTES, 1024),
  BODY_MAX_DEPTH: Int(DEFAULT_BODY_MAX_DEPTH, 2, 10_000),
  REQUEST_TIMEOUT_MS: Int(DEFAULT_REQUEST_TIMEOUT_MS, 0, MAX_TIMER_MS),
  CONNECTION_TIMEOUT_MS: Int(DEFAULT_CONNECTION_TIMEOUT_MS, 0, MAX_TIMER_MS),

  // Breakers
  BREAKER_TIMEOUT_MS: Int(0, 0),
  BREAKER_ERROR_THRESHOLD_PERCENTAGE: Int(50, 1, 100),
  BREAKER_RESET_TIMEOUT_MS: Int(DEFAULT_BREAKER_RESET_MS, 1),
  BREAKER_VOLUME_THRESHOLD: Int(5, 0),
  BREAKER_ROLLING_WINDOW_MS: Int(DEFAULT_BREAKER_ROLLING_WINDOW_MS, 10),

  // Routing and discovery
  MODEL_ALIASES: Str(''),
  PROVIDERS_DISABLED: Str(''),
  CUSTOM_PROVIDERS: Str(''),
  MODELS_REFRESH_MS: Int(DEFAULT_MODELS_REFRESH_MS, 0),
  DISCOVERY_TIMEOUT_MS: Int(DEFAULT_DISCOVERY_TIMEOUT_MS, 1),
  DISCOVERY_RETRY_MIN_MS: Int(DEFAULT_DISCOVERY_RETRY_MIN_MS, 1, MAX_TIMER_MS),
  DISCOVERY_RETRY_MAX_MS: Int(DEFAULT_DISCOVERY_RETRY_MAX_MS, 1, MAX_TIMER_MS),
  DISCOVERY_ON_DEMAND_INTERVAL_MS: Int(DEFAULT_DISCOVERY_ON_DEMAND_INTERVAL_MS, 0, MAX_TIMER_MS),

  // Resilience: attempts, retries, cooldowns, timeouts (per-provider overrides in the family)
  MAX_ATTEMPTS: Int(10, 1, 100),
  RETRY_SAME_PROVIDER: Int(0, 0, 10),
  RETRY_BASE_DELAY_MS: Int(200, 0),
  MAX_COOLDOWN_WAIT_MS: Int(DEFAULT_MAX_COOLDOWN_WAIT_MS, 0),
  KEY_AUTH_COOLDOWN_MS: Int(DEFAULT_KEY_AUTH_COOLDOWN_MS, 0),
  MAX_KEY_COOLDOWN_MS: Int(DEFAULT_MAX_KEY_COOLDOWN_MS, 1000),
  TIMEOUT_CONNECT_MS: Int(DEFAULT_TIMEOUT_CONNECT_MS, 1),
  TIMEOUT_FIRST_BYTE_MS: Int(DEFAULT_TIMEOUT_FIRST_BYTE_MS, 1),
  TIMEOUT_FIRST_BYTE_MIN_MS: Int(DEFAULT_TIMEOUT_FIRST_BYTE_MIN_MS, 1),
  TIMEOUT_ADAPTIVE_FACTOR: Type.Number({ default: 4, minimum: 0 }),
  TIMEOUT_IDLE_MS: Int(DEFAULT_TIMEOUT_IDLE_MS, 1),
  TIMEOUT_TOTAL_MS: Int(DEFAULT_TIMEOUT_TOTAL_MS, 1),
  // Continuity: hedged first tokens, mid-stream resume, tool-call delivery
  HEDGE_FIRST_BYTE_MS: Int(DEFAULT_HEDGE_FIRST_BYTE_MS, 0, MAX_TIMER_MS),
  STREAM_RESUME: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '1' }),
  STREAM_TOOL_CALLS: Type.Union([Type.Literal('held'), Type.Literal('live')], { default: 'held' }),
  SHUTDOWN_GRACE_MS: Int(DEFAULT_SHUTDOWN_GRACE_MS, 0),

  // Upstream reads: caps on what one upstream answer may make the gateway hold
  UPSTREAM_MAX_EVENT_BYTES: Int(DEFAULT_UPSTREAM_MAX_EVENT_BYTES, 1024),
  UPSTREAM_MAX_BODY_BYTES: Int(DEFAULT_UPSTREAM_MAX_BODY_BYTES, 1024),
  UPSTREAM_MAX_STREAM_BYTES: Int(DEFAULT_UPSTREAM_MAX_STREAM_BYTES, 1024),

  // Access control and shared state
  GATEWAY_API_KEYS: Str(''),
  CORS_ORIGINS: Str('*'),
  RATE_LIMIT_MAX: Int(100, 0),
  RATE_LIMIT_WINDOW: Str('1 minute'),
  REDIS_URL: OptStr(),
  AUTH_FAILURE_LIMIT: Int(DEFAULT_AUTH_FAILURE_LIMIT, 0),
  REDIS_TIMEOUT_MS: Int(DEFAULT_REDIS_TIMEOUT_MS, 1, MAX_TIMER_MS),

  // Sessions and stored responses
  SESSION_TTL_MS: Int(DEFAULT_SESSION_TTL_MS, 1),
  SESSION_MAX_MESSAGES: Int(100, 1),
  SESSION_MAX_COUNT: Int(10_000, 1),
  SESSION_MAX_BYTES: Int(DEFAULT_SESSION_MAX_BYTES, 1024),
  RESPONSES_TTL_MS: Int(DEFAULT_RESPONSES_TTL_MS, 1),
  RESPONSES_MAX_COUNT: Int(DEFAULT_RESPONSES_MAX_COUNT, 1),
  RESPONSES_MAX_BYTES: Int(DEFAULT_RESPONSES_MAX_BYTES, 1024),

  // Inbound dialects
  MESSAGES_PING_INTERVAL_MS: Int(DEFAULT_MESSAGES_PING_INTERVAL_MS, 1, MAX_TIMER_MS),

  // Fleet: response cache, coalescing, cache-warm affinity, proxies, traces
  CACHE_TTL_MS: Int(0, 0),
  CACHE_MAX_ENTRIES: Int(DEFAULT_CACHE_MAX_ENTRIES, 1),
  CACHE_MAX_BYTES: Int(DEFAULT_CACHE_MAX_BYTES, 1024),
  CACHE_NONDETERMINISTIC: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '0' }),
  CACHE_LOCK_WAIT_MS: Int(DEFAULT_CACHE_LOCK_WAIT_MS, 0),
  AFFINITY_TTL_MS: Int(DEFAULT_AFFINITY_TTL_MS, 0),
  TRUST_PROXY: Str(''),
  OTEL_EXPORTER_OTLP_ENDPOINT: OptStr(),
  OTEL_EXPORTER_OTLP_HEADERS: Str(''),
  OTEL_SERVICE_NAME: Str('tiergate'),
  OTEL_CAPTURE_CONTENT: Type.Union([Type.Literal('0'), Type.Literal('1')], { default: '0' }),
})

/** The general schema plus every provider's own variables, validated in one pass. */
const FULL_SCHEMA = Type.Object({
  ...ENV_SCHEMA.properties,
  ...Object.assign({}, ...DECLARATIONS.map((d) => d.env?.properties ?? {})) as TProperties,
})
type Env = Static<typeof ENV_SCHEMA>

/** Every fixed variable name (per-provider families are described by PROVIDER_VARIABLE). */
export const ENV_VARIABLES = Object.keys(FULL_SCHEMA.properties)
/** The per-provider variable families. */
export const PROVIDER_VARIABLE = /^(?:PROVIDER_PRIORITY_([A-Z0-9_]+)|([A-Z0-9_]+?)_(?:API_KEY(?:_\d+)?|BASE_URL|MODELS|PREFILL|HEDGE_FIRST_BYTE_MS|TIMEOUT_(?:CONNECT|FIRST_BYTE|IDLE|TOTAL)_MS))$/

export interface Timeouts {
  connectMs: number
  firstByteMs: number
  firstByteMinMs: number
  adaptiveFactor: number
  idleMs: number
  totalMs: number
}

export interface ProviderSettings {
  name: string
  tier: number
  /** The key pool; empty for keyless providers. */
  apiKeys: string[]
  baseUrl: string | undefined
  /** Fixed catalog from `<NAME>_MODELS`; undefined = discover. */
  models: string[] | undefined
  /** `<NAME>_MODELS=*`: accepts any model name. */
  catchAll: boolean
  /** Set and not disabled: keyed providers need a key, keyless ones a base. */
  enabled: boolean
  timeouts: Timeouts
  /** `<NAME>_HEDGE_FIRST_BYTE_MS`, else HEDGE_FIRST_BYTE_MS; 0 = no hedge. */
  hedgeFirstByteMs?: number
  /** `<NAME>_PREFILL`: may a resumed stream be continued on it by prefill (auto = as the adapter declares). */
  prefill?: 'auto' | 'on' | 'off'
}

/** `app.config.<provider>`: what each declaration's `options` returns (anthropic, ollama, …). */
type OptionsOf<D> = D extends { options?: (...args: never[]) => infer O } ? O : never
export type ProviderOptions = {
  [D in Declaration as [OptionsOf<D>] extends [undefined] ? never : D['name']]: OptionsOf<D>
}

export interface Config extends ProviderOptions {
  host: string
  port: number
  logLevel: string
  bodyLimitBytes: number
  /** Deepest nesting of objects/arrays a request body may have (checked before routing). */
  bodyMaxDepth: number
  /** Caps on upstream reads: one SSE event or NDJSON line, one JSON body. */
  upstream: { maxEventBytes: number; maxBodyBytes: number; maxStreamBytes: number }
  /** Server timeouts (server.ts): receiving a request, and socket inactivity; 0 = off. */
  server: { requestTimeoutMs: number; connectionTimeoutMs: number }
  breaker: {
    timeoutMs: number
    errorThresholdPercentage: number
    resetTimeoutMs: number
    volumeThreshold: number
    rollingWindowMs: number
  }
  routing: {
    aliases: Map<string, string[]>
    modelsRefreshMs: number
    discoveryTimeoutMs: number
    discoveryRetryMinMs: number
    discoveryRetryMaxMs: number
    discoveryOnDemandIntervalMs: number
  }
  resilience: {
    maxAttempts: number
    retrySameProvider: number
    retryBaseDelayMs: number
    maxCooldownWaitMs: number
    keyAuthCooldownMs: number
    /** Caps every key cool-down and retry-after (and the Retry-After returned). */
    maxKeyCooldownMs: number
    shutdownGraceMs: number
  }
  /** Continuity of streams (README "Fallback rules"). */
  streaming: { resume: boolean; toolCalls: 'held' | 'live'; hedgeFirstByteMs: number }
  providers: Record<string, ProviderSettings>
  customProviders: string[]
  gatewayApiKeys: string[]
  corsOrigins: string[]
  /** `max` 0 turns rate limiting off. */
  rateLimit: { max: number; window: string; windowMs: number }
  redisUrl: string | undefined
  /** The deadline of every Redis command (and of connecting). */
  redisTimeoutMs: number
  /** Failed authentications per IP per minute before 429 (0 = unlimited). */
  authFailureLimit: number
  sessions: { ttlMs: number; maxMessages: number; maxCount: number; maxBytes: number }
  /** Stored responses (POST /v1/responses with `store`): TTL, and the memory store's bounds. */
  responses: { ttlMs: number; maxCount: number; maxBytes: number }
  /** /v1/messages: the `ping` keep-alive of committed streams. */
  messages: { pingIntervalMs: number }
  /** Response cache (off when ttlMs is 0); the bounds apply to the memory store. */
  cache: { ttlMs: number; maxEntries: number; maxBytes: number; nondeterministic: boolean; lockWaitMs: number }
  /** Cache-warm routing: how long a conversation stays pinned to its provider and key (0 = off). */
  affinity: { ttlMs: number }
  /** Fastify's trustProxy: false (off), true, a hop count, or addresses/CIDRs. */
  trustProxy: boolean | number | string[]
  /** OpenTelemetry traces: off without an endpoint (a test may inject an exporter instead). */
  telemetry: { endpoint: string | undefined; headers: Record<string, string>; serviceName: string; captureContent: boolean }
  /** Every configured credential, for redaction in logs and error messages. */
  secrets: string[]
}

// ── Parsing ──────────────────────────────────────────────────────────────────────────────
function parseFixedEnv(raw: RawEnv): Record<string, unknown> {
  // Only declared variables, and blanks treated as unset (a `FOO=` line in .env means "default").
  const picked: Record<string, unknown> = {}
  for (const key of ENV_VARIABLES) {
    const value = raw[key]
    if (value !== undefined && value.trim() !== '') picked[key] = value.trim()
  }
  // TypeBox's Convert reads "3e9" as the integer 3: an integer variable takes digits only.
  for (const [key, value] of Object.entries(picked)) {
    const schema = (FULL_SCHEMA.properties as Record<string, { type?: string }>)[key]
    if (schema.type === 'integer' && !/^-?\d+$/.test(String(value))) {
      throw new ConfigError(key, `must be an integer written in digits (got ${JSON.stringify(value)})`)
    }
  }
  const converted = Value.Convert(FULL_SCHEMA, Value.Default(FULL_SCHEMA, picked))
  const firstError = Value.Errors(FULL_SCHEMA, converted).First()
  if (firstError) {
    const variable = firstError.path.replace(/^\//, '')
    throw new ConfigError(variable, `${firstError.message} (got ${JSON.stringify(raw[variable])})`)
  }
  for (const variable of ENV_VARIABLES) {
    if (isTimerVariable(variable)) checkTimerMs(variable, (converted as Record<string, unknown>)[variable])
  }
  return converted as Record<string, unknown>
}

/**
 * Every `*_MS` variable is a timer delay (issue 9 item 17) — except `*_TTL_MS`, which are
 * deadlines compared with the clock or sent to Redis as PX, never passed to setTimeout.
 * Node's timers hold a signed 32-bit delay: a larger one fires after 1 ms, so it is refused.
 */
export function isTimerVariable(variable: string): boolean {
  return variable.endsWith('_MS') && !variable.endsWith('_TTL_MS')
}

function checkTimerMs(variable: string, value: unknown): void {
  if (typeof value === 'number' && value > MAX_TIMER_MS) {
    throw new ConfigError(variable, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days: Node's timers cannot wait longer, a larger value would fire at once; got ${value})`)
  }
}

function intVar(raw: RawEnv, name: string, fallback: number, min = 0): number {
  const value = raw[name]?.trim()
  if (!value) return fallback
  if (!/^-?\d+$/.test(value) || Number(value) < min) {
    throw new ConfigError(name, `must be an integer >= ${min} (got ${JSON.stringify(value)})`)
  }
  if (isTimerVariable(name)) checkTimerMs(name, Number(value))
  return Number(value)
}

/** `NAME_API_KEY=a,b` plus `NAME_API_KEY_1..N`, de-duplicated, order kept. */
function keyPool(raw: RawEnv, prefix: string): string[] {
  const keys = list(raw[`${prefix}_API_KEY`])
  const numbered = Object.keys(raw)
    .map((k) => new RegExp(`^${prefix}_API_KEY_(\\d+)$`).exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
  for (const m of numbered) keys.push(...list(raw[m[0]]))
  return [...new Set(keys)]
}

/** The `<NAME>_*` family, for a built-in provider (with its declaration) or a custom one. */
function providerSettings(raw: RawEnv, env: Env, name: string, declaration: ProviderDeclaration | undefined, options: unknown): ProviderSettings {
  const prefix = name.toUpperCase().replace(/[^A-Z0-9]/g, '_')
  const apiKeys = keyPool(raw, prefix)
  const modelsVar = raw[`${prefix}_MODELS`]?.trim()
  const catchAll = modelsVar === '*' || (declaration?.catchAllByDefault === true && !modelsVar)
  const models = modelsVar && modelsVar !== '*' ? list(modelsVar) : undefined
  const baseUrl = httpUrl(raw, `${prefix}_BASE_URL`, raw[`${prefix}_BASE_URL`]?.trim()) ?? declaration?.baseUrl
  const on = declaration?.enabled
    ? declaration.enabled(options, apiKeys)
    : declaration?.keyless === true || apiKeys.length > 0
  const t = (suffix: string, global: number) => intVar(raw, `${prefix}_TIMEOUT_${suffix}`, global, 1)
  return {
    name,
    tier: intVar(raw, `PROVIDER_PRIORITY_${prefix}`, declaration?.tier ?? DEFAULT_UNKNOWN_PROVIDER_TIER, 1),
    apiKeys,
    baseUrl,
    models,
    catchAll,
    enabled: on,
    timeouts: {
      connectMs: t('CONNECT_MS', env.TIMEOUT_CONNECT_MS),
      firstByteMs: t('FIRST_BYTE_MS', env.TIMEOUT_FIRST_BYTE_MS),
      firstByteMinMs: env.TIMEOUT_FIRST_BYTE_MIN_MS,
      adaptiveFactor: env.TIMEOUT_ADAPTIVE_FACTOR,
      idleMs: t('IDLE_MS', env.TIMEOUT_IDLE_MS),
      totalMs: t('TOTAL_MS', env.TIMEOUT_TOTAL_MS),
    },
    hedgeFirstByteMs: intVar(raw, `${prefix}_HEDGE_FIRST_BYTE_MS`, env.HEDGE_FIRST_BYTE_MS, 0),
    prefill: prefillVar(raw, `${prefix}_PREFILL`),
  }
}

function prefillVar(raw: RawEnv, name: string): 'auto' | 'on' | 'off' {
  const value = raw[name]?.trim().toLowerCase()
  if (!value) return 'auto'
  if (value === 'auto' || value === 'on' || value === 'off') return value
  throw new ConfigError(name, `must be auto, on or off (got ${JSON.stringify(raw[name])})`)
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `60000`, `30 s`, `1 minute`, `2 hours`: what @fastify/rate-limit accepts, checked at start-up. */
function durationMs(variable: string, value: string): number {
  const match = /^(\d+)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?)?$/i.exec(value.trim())
  if (!match || Number(match[1]) <= 0) throw new ConfigError(variable, `must be a duration such as 60000, "30 s" or "1 minute" (got ${JSON.stringify(value)})`)
  const unit = (match[2] ?? 'ms').toLowerCase()
  const key = unit.startsWith('ms') || unit.startsWith('milli') ? 'ms' : unit[0]
  const ms = Number(match[1]) * DURATION_UNITS_MS[key]
  checkTimerMs(variable, ms) // the rate limiter's window is a timer too
  return ms
}

/** TRUST_PROXY: empty/`false` = off, `true`, a hop count (`1`), or addresses/CIDRs (`10.0.0.0/8,127.0.0.1`). */
export function parseTrustProxy(value: string): boolean | number | string[] {
  const v = value.trim().toLowerCase()
  if (v === '' || v === 'false' || v === '0') return false
  if (v === 'true') return true
  if (/^\d+$/.test(v)) return Number(v)
  const entries = list(value)
  for (const entry of entries) {
    if (!/^[0-9a-f.:]+(?:\/\d{1,3})?$/i.test(entry) && !['loopback', 'linklocal', 'uniquelocal'].includes(entry)) {
      throw new ConfigError('TRUST_PROXY', `must be true, a hop count, or addresses/CIDRs (got ${JSON.stringify(value)})`)
    }
  }
  return entries
}

/** OTEL_EXPORTER_OTLP_HEADERS, the standard `k=v,k2=v2` form (values may be %-encoded). */
function parseOtlpHeaders(value: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const pair of list(value)) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new ConfigError('OTEL_EXPORTER_OTLP_HEADERS', 'entries must look like key=value')
    headers[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim())
  }
  return headers
}

function customProviderNames(raw: RawEnv, env: Env): string[] {
  const names = list(env.CUSTOM_PROVIDERS).map((s) => s.toLowerCase())
  for (const name of names) {
    if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new ConfigError('CUSTOM_PROVIDERS', `has an invalid name ${JSON.stringify(name)}`)
    if (BUILTIN_PROVIDERS.includes(name)) throw new ConfigError('CUSTOM_PROVIDERS', `names built-in provider ${JSON.stringify(name)}`)
    if (!raw[`${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_BASE_URL`]) {
      throw new ConfigError(`${name.toUpperCase()}_BASE_URL`, `is required for custom provider ${JSON.stringify(name)}`)
    }
  }
  return names
}

export function loadConfig(raw: RawEnv = process.env): Config {
  const all = parseFixedEnv(raw)
  const env = all as Env
  const disabled = new Set(list(env.PROVIDERS_DISABLED).map((s) => s.toLowerCase()))
  const customProviders = customProviderNames(raw, env)

  const providers: Record<string, ProviderSettings> = {}
  const providerOptions: Record<string, unknown> = {}
  for (const declaration of DECLARATIONS) {
    const options = declaration.options?.(all, raw)
    if (declaration.options) providerOptions[declaration.name] = options
    const settings = providerSettings(raw, env, declaration.name, declaration, options)
    settings.enabled &&= !disabled.has(declaration.name)
    providers[declaration.name] = settings
  }
  // Custom providers are keyless-capable: a local vLLM or LM Studio needs no key.
  for (const name of customProviders) {
    providers[name] = { ...providerSettings(raw, env, name, undefined, undefined), enabled: !disabled.has(name) }
  }

  const gatewayApiKeys = list(env.GATEWAY_API_KEYS)
  const secrets = [
    ...Object.values(providers).flatMap((p) => p.apiKeys),
    ...gatewayApiKeys,
  ].filter((s) => s.length >= 4)

  return {
    ...(providerOptions as ProviderOptions),
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    bodyMaxDepth: env.BODY_MAX_DEPTH,
    upstream: { maxEventBytes: env.UPSTREAM_MAX_EVENT_BYTES, maxBodyBytes: env.UPSTREAM_MAX_BODY_BYTES, maxStreamBytes: env.UPSTREAM_MAX_STREAM_BYTES },
    server: { requestTimeoutMs: env.REQUEST_TIMEOUT_MS, connectionTimeoutMs: env.CONNECTION_TIMEOUT_MS },
    breaker: {
      timeoutMs: env.BREAKER_TIMEOUT_MS,
      errorThresholdPercentage: env.BREAKER_ERROR_THRESHOLD_PERCENTAGE,
      resetTimeoutMs: env.BREAKER_RESET_TIMEOUT_MS,
      volumeThreshold: env.BREAKER_VOLUME_THRESHOLD,
      rollingWindowMs: env.BREAKER_ROLLING_WINDOW_MS,
    },
    routing: {
      aliases: parseAliases('MODEL_ALIASES', env.MODEL_ALIASES, '|'),
      modelsRefreshMs: env.MODELS_REFRESH_MS,
      discoveryTimeoutMs: env.DISCOVERY_TIMEOUT_MS,
      discoveryRetryMinMs: env.DISCOVERY_RETRY_MIN_MS,
      discoveryRetryMaxMs: Math.max(env.DISCOVERY_RETRY_MIN_MS, env.DISCOVERY_RETRY_MAX_MS),
      discoveryOnDemandIntervalMs: env.DISCOVERY_ON_DEMAND_INTERVAL_MS,
    },
    resilience: {
      maxAttempts: env.MAX_ATTEMPTS,
      retrySameProvider: env.RETRY_SAME_PROVIDER,
      retryBaseDelayMs: env.RETRY_BASE_DELAY_MS,
      maxCooldownWaitMs: env.MAX_COOLDOWN_WAIT_MS,
      keyAuthCooldownMs: env.KEY_AUTH_COOLDOWN_MS,
      maxKeyCooldownMs: env.MAX_KEY_COOLDOWN_MS,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    },
    streaming: { resume: env.STREAM_RESUME === '1', toolCalls: env.STREAM_TOOL_CALLS, hedgeFirstByteMs: env.HEDGE_FIRST_BYTE_MS },
    providers,
    customProviders,
    gatewayApiKeys,
    corsOrigins: list(env.CORS_ORIGINS),
    rateLimit: { max: env.RATE_LIMIT_MAX, window: env.RATE_LIMIT_WINDOW, windowMs: durationMs('RATE_LIMIT_WINDOW', env.RATE_LIMIT_WINDOW) },
    redisUrl: env.REDIS_URL,
    redisTimeoutMs: env.REDIS_TIMEOUT_MS,
    authFailureLimit: env.AUTH_FAILURE_LIMIT,
    sessions: { ttlMs: env.SESSION_TTL_MS, maxMessages: env.SESSION_MAX_MESSAGES, maxCount: env.SESSION_MAX_COUNT, maxBytes: env.SESSION_MAX_BYTES },
    responses: { ttlMs: env.RESPONSES_TTL_MS, maxCount: env.RESPONSES_MAX_COUNT, maxBytes: env.RESPONSES_MAX_BYTES },
    messages: { pingIntervalMs: env.MESSAGES_PING_INTERVAL_MS },
    cache: { ttlMs: env.CACHE_TTL_MS, maxEntries: env.CACHE_MAX_ENTRIES, maxBytes: env.CACHE_MAX_BYTES, nondeterministic: env.CACHE_NONDETERMINISTIC === '1', lockWaitMs: env.CACHE_LOCK_WAIT_MS },
    affinity: { ttlMs: env.AFFINITY_TTL_MS },
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    telemetry: {
      endpoint: httpUrl(raw, 'OTEL_EXPORTER_OTLP_ENDPOINT', env.OTEL_EXPORTER_OTLP_ENDPOINT),
      headers: parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS),
      serviceName: env.OTEL_SERVICE_NAME,
      captureContent: env.OTEL_CAPTURE_CONTENT === '1',
    },
    secrets,
  }
}
