// The general variables (ENV_SCHEMA, by concern) plus every provider declaration's own, and
// their validation into typed values: one pass, the first bad value a ConfigError.
import { Type, type Static, type TProperties } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ConfigError, Int, Str, OptStr, MAX_TIMER_MS, type RawEnv } from '../providers/settings.ts'
import { DECLARATIONS } from './providers.ts'
import { checkTimerMs, isTimerVariable } from './parse.ts'
import {
  DEFAULT_AFFINITY_TTL_MS, DEFAULT_AUTH_FAILURE_LIMIT, DEFAULT_BODY_LIMIT_BYTES,
  DEFAULT_BODY_MAX_DEPTH, DEFAULT_BREAKER_RESET_MS, DEFAULT_BREAKER_ROLLING_WINDOW_MS,
  DEFAULT_CACHE_LOCK_WAIT_MS, DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_MAX_ENTRIES,
  DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_DISCOVERY_ON_DEMAND_INTERVAL_MS,
  DEFAULT_DISCOVERY_RETRY_MAX_MS, DEFAULT_DISCOVERY_RETRY_MIN_MS, DEFAULT_DISCOVERY_TIMEOUT_MS,
  DEFAULT_HEDGE_FIRST_BYTE_MS, DEFAULT_KEY_AUTH_COOLDOWN_MS, DEFAULT_MAX_COOLDOWN_WAIT_MS,
  DEFAULT_MAX_KEY_COOLDOWN_MS, DEFAULT_MESSAGES_PING_INTERVAL_MS, DEFAULT_MODELS_REFRESH_MS,
  DEFAULT_PORT, DEFAULT_REDIS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_RESPONSES_MAX_BYTES,
  DEFAULT_RESPONSES_MAX_COUNT, DEFAULT_RESPONSES_TTL_MS, DEFAULT_SESSION_MAX_BYTES,
  DEFAULT_SESSION_TTL_MS, DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_TIMEOUT_CONNECT_MS,
  DEFAULT_TIMEOUT_FIRST_BYTE_MIN_MS, DEFAULT_TIMEOUT_FIRST_BYTE_MS, DEFAULT_TIMEOUT_IDLE_MS,
  DEFAULT_TIMEOUT_TOTAL_MS, DEFAULT_UPSTREAM_MAX_BODY_BYTES, DEFAULT_UPSTREAM_MAX_EVENT_BYTES, DEFAULT_UPSTREAM_MAX_STREAM_BYTES,
} from './defaults.ts'

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
export type Env = Static<typeof ENV_SCHEMA>

/** Every fixed variable name (per-provider families are described by PROVIDER_VARIABLE). */
export const ENV_VARIABLES = Object.keys(FULL_SCHEMA.properties)

/** The fixed variables (general and declared by providers), validated and converted to their types. */
export function parseFixedEnv(raw: RawEnv): Record<string, unknown> {
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
