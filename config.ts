// The one place that reads the environment. General variables are declared in ENV_SCHEMA
// (config/schema.ts); each provider declares its own (providers/settings.ts, collected from
// providers/builtin.ts) and gets the `<NAME>_*` family from providerSettings()
// (config/providers.ts). Everything is validated once into a typed Config; a bad value stops
// start-up with a message naming the variable.
//
// Adding a global variable: a named default (units in the name) in config/defaults.ts, one line
// in ENV_SCHEMA's section, one field in Config and in loadConfig's return (here), plus
// .env.example and the README table. Adding a provider variable: its declaration, not these files.
//
// By concern: config/defaults.ts (the named defaults), config/schema.ts (the variables and their
// validation), config/providers.ts (what the provider declarations mean), config/parse.ts (value
// parsers). This file assembles the Config and re-exports what the rest of the code imports.
import { ConfigError, list, parseAliases, httpUrl, type RawEnv } from './providers/settings.ts'
import { parseFixedEnv, type Env } from './config/schema.ts'
import { DECLARATIONS, customProviderNames, providerSettings, type ProviderOptions, type ProviderSettings } from './config/providers.ts'
import { durationMs, parseOtlpHeaders, parseTrustProxy } from './config/parse.ts'

export { ConfigError, list }
export { ollamaLocalBaseUrl } from './providers/ollama/settings.ts'
export * from './config/defaults.ts'
export { ENV_VARIABLES } from './config/schema.ts'
export {
  DEFAULT_PROVIDER_PRIORITIES, BUILTIN_PROVIDERS, KEYLESS_PROVIDERS, DEFAULT_BASE_URLS, PROVIDER_VARIABLE,
  type Timeouts, type ProviderSettings, type ProviderOptions,
} from './config/providers.ts'
export { isTimerVariable, parseTrustProxy } from './config/parse.ts'

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
  /** Response cache (off when ttlMs is 0); the bounds apply to the memory store (with Redis: its outage copy). */
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
