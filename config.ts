// The one place that reads the environment. Every variable is declared in ENV_SCHEMA
// (or, for per-provider families, in providerSettings below), validated once, and turned
// into a typed Config. A bad value stops start-up with a message naming the variable.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

// Named defaults, units in the names (DESIGN convention 7).
export const DEFAULT_PORT = 8080
export const DEFAULT_BODY_LIMIT_BYTES = 20 * 1024 * 1024 // a few base64 images fit
export const DEFAULT_BREAKER_RESET_MS = 30_000
export const DEFAULT_BREAKER_ROLLING_WINDOW_MS = 10_000
export const DEFAULT_MODELS_REFRESH_MS = 600_000
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 5_000
export const DEFAULT_TIMEOUT_CONNECT_MS = 5_000
export const DEFAULT_TIMEOUT_FIRST_BYTE_MS = 60_000
export const DEFAULT_TIMEOUT_FIRST_BYTE_MIN_MS = 2_000
export const DEFAULT_TIMEOUT_IDLE_MS = 30_000
export const DEFAULT_TIMEOUT_TOTAL_MS = 600_000
export const DEFAULT_KEY_AUTH_COOLDOWN_MS = 3_600_000
export const DEFAULT_MAX_COOLDOWN_WAIT_MS = 5_000
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000
export const DEFAULT_SESSION_TTL_MS = 86_400_000
/** Stored responses live as long as OpenAI keeps them (30 days). */
export const DEFAULT_RESPONSES_TTL_MS = 2_592_000_000
export const DEFAULT_RESPONSES_MAX_COUNT = 10_000
export const DEFAULT_RESPONSES_MAX_BYTES = 64 * 1024 * 1024
export const DEFAULT_UNKNOWN_PROVIDER_TIER = 10

/** Seed 001's tier table: 1 = tried first. */
export const DEFAULT_PROVIDER_PRIORITIES: Record<string, number> = {
  openai: 1,
  anthropic: 1,
  groq: 2,
  openrouter: 2,
  gemini: 3,
  mistral: 3,
  ollama: 4,
  gpt4all: 4,
  pollinations: 5,
  g4f: 5,
}

/** Providers shipped with tiergate (custom ones come from CUSTOM_PROVIDERS). */
export const BUILTIN_PROVIDERS = Object.keys(DEFAULT_PROVIDER_PRIORITIES)
/** Enabled without a key; PROVIDERS_DISABLED turns them off. */
export const KEYLESS_PROVIDERS = new Set(['ollama', 'gpt4all', 'pollinations'])

const Int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ default: def, minimum: min, maximum: max })
const Str = (def: string) => Type.String({ default: def })
const OptStr = () => Type.Optional(Type.String())

const ENV_SCHEMA = Type.Object({
  HOST: Str('127.0.0.1'),
  PORT: Int(DEFAULT_PORT, 0, 65535),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  BODY_LIMIT_BYTES: Int(DEFAULT_BODY_LIMIT_BYTES, 1024),

  BREAKER_TIMEOUT_MS: Int(0, 0),
  BREAKER_ERROR_THRESHOLD_PERCENTAGE: Int(50, 1, 100),
  BREAKER_RESET_TIMEOUT_MS: Int(DEFAULT_BREAKER_RESET_MS, 1),
  BREAKER_VOLUME_THRESHOLD: Int(5, 0),
  BREAKER_ROLLING_WINDOW_MS: Int(DEFAULT_BREAKER_ROLLING_WINDOW_MS, 10),

  MODEL_ALIASES: Str(''),
  PROVIDERS_DISABLED: Str(''),
  CUSTOM_PROVIDERS: Str(''),
  MODELS_REFRESH_MS: Int(DEFAULT_MODELS_REFRESH_MS, 0),
  DISCOVERY_TIMEOUT_MS: Int(DEFAULT_DISCOVERY_TIMEOUT_MS, 1),

  MAX_ATTEMPTS: Int(10, 1, 100),
  RETRY_SAME_PROVIDER: Int(0, 0, 10),
  RETRY_BASE_DELAY_MS: Int(200, 0),
  MAX_COOLDOWN_WAIT_MS: Int(DEFAULT_MAX_COOLDOWN_WAIT_MS, 0),
  KEY_AUTH_COOLDOWN_MS: Int(DEFAULT_KEY_AUTH_COOLDOWN_MS, 0),
  TIMEOUT_CONNECT_MS: Int(DEFAULT_TIMEOUT_CONNECT_MS, 1),
  TIMEOUT_FIRST_BYTE_MS: Int(DEFAULT_TIMEOUT_FIRST_BYTE_MS, 1),
  TIMEOUT_FIRST_BYTE_MIN_MS: Int(DEFAULT_TIMEOUT_FIRST_BYTE_MIN_MS, 1),
  TIMEOUT_ADAPTIVE_FACTOR: Type.Number({ default: 4, minimum: 0 }),
  TIMEOUT_IDLE_MS: Int(DEFAULT_TIMEOUT_IDLE_MS, 1),
  TIMEOUT_TOTAL_MS: Int(DEFAULT_TIMEOUT_TOTAL_MS, 1),
  SHUTDOWN_GRACE_MS: Int(DEFAULT_SHUTDOWN_GRACE_MS, 0),

  GATEWAY_API_KEYS: Str(''),
  CORS_ORIGINS: Str('*'),
  RATE_LIMIT_MAX: Int(100, 0),
  RATE_LIMIT_WINDOW: Str('1 minute'),
  REDIS_URL: OptStr(),

  SESSION_TTL_MS: Int(DEFAULT_SESSION_TTL_MS, 1),
  SESSION_MAX_MESSAGES: Int(100, 1),
  SESSION_MAX_COUNT: Int(10_000, 1),
  RESPONSES_TTL_MS: Int(DEFAULT_RESPONSES_TTL_MS, 1),
  RESPONSES_MAX_COUNT: Int(DEFAULT_RESPONSES_MAX_COUNT, 1),
  RESPONSES_MAX_BYTES: Int(DEFAULT_RESPONSES_MAX_BYTES, 1024),

  OPENROUTER_SITE_URL: OptStr(),
  OPENROUTER_APP_NAME: Str('tiergate'),
  ANTHROPIC_VERSION: Str('2023-06-01'),
  ANTHROPIC_DEFAULT_MAX_TOKENS: Int(4096, 1),
  OLLAMA_HOST: Str('localhost'),
  OLLAMA_PORT: Int(11434, 1, 65535),
  OLLAMA_BASE_URL: OptStr(),
  OLLAMA_REMOTE_BASE_URL: Str('https://g4f.space/api/ollama/v1'),
  OLLAMA_MODEL_ALIASES: Str(''),
  POLLINATIONS_REFERRER: OptStr(),
  G4F_MAIN_API_BASE: OptStr(),
  G4F_GROQ_API_BASE: OptStr(),
  G4F_GROK_API_BASE: OptStr(),
  G4F_GEMINI_API_BASE: OptStr(),
  G4F_NVIDIA_API_BASE: OptStr(),
})
type Env = Static<typeof ENV_SCHEMA>

/** Every fixed variable name (per-provider families are described by PROVIDER_VARIABLE). */
export const ENV_VARIABLES = Object.keys(ENV_SCHEMA.properties)
/** The per-provider variable families. */
export const PROVIDER_VARIABLE = /^(?:PROVIDER_PRIORITY_([A-Z0-9_]+)|([A-Z0-9_]+?)_(?:API_KEY(?:_\d+)?|BASE_URL|MODELS|TIMEOUT_(?:CONNECT|FIRST_BYTE|IDLE|TOTAL)_MS))$/

/** Public defaults of each built-in provider's base URL (`<NAME>_BASE_URL` overrides). */
export const DEFAULT_BASE_URLS: Record<string, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  groq: 'https://api.groq.com/openai/v1',
  openrouter: 'https://openrouter.ai/api/v1',
  gemini: 'https://generativelanguage.googleapis.com/v1beta/openai',
  mistral: 'https://api.mistral.ai/v1',
  pollinations: 'https://text.pollinations.ai/openai',
  gpt4all: 'http://localhost:4891/v1',
}

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
}

export interface Config {
  host: string
  port: number
  logLevel: string
  bodyLimitBytes: number
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
  }
  resilience: {
    maxAttempts: number
    retrySameProvider: number
    retryBaseDelayMs: number
    maxCooldownWaitMs: number
    keyAuthCooldownMs: number
    shutdownGraceMs: number
  }
  providers: Record<string, ProviderSettings>
  customProviders: string[]
  gatewayApiKeys: string[]
  corsOrigins: string[]
  /** `max` 0 turns rate limiting off. */
  rateLimit: { max: number; window: string; windowMs: number }
  redisUrl: string | undefined
  sessions: { ttlMs: number; maxMessages: number; maxCount: number }
  /** Stored responses (POST /v1/responses with `store`): TTL, and the memory store's bounds. */
  responses: { ttlMs: number; maxCount: number; maxBytes: number }
  openrouter: { siteUrl: string | undefined; appName: string }
  anthropic: { version: string; defaultMaxTokens: number }
  ollama: { localBaseUrl: string; remoteBaseUrl: string | undefined; modelAliases: Map<string, string> }
  pollinations: { referrer: string | undefined }
  g4f: { main?: string; groq?: string; grok?: string; gemini?: string; nvidia?: string }
  /** Every configured credential, for redaction in logs and error messages. */
  secrets: string[]
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`)
    this.name = 'ConfigError'
  }
}

type RawEnv = Record<string, string | undefined>

export const list = (value: string | undefined): string[] =>
  (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)

function parseFixedEnv(raw: RawEnv): Env {
  // Only declared variables, and blanks treated as unset (a `FOO=` line in .env means "default").
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(ENV_SCHEMA.properties)) {
    const value = raw[key]
    if (value !== undefined && value.trim() !== '') picked[key] = value.trim()
  }
  const converted = Value.Convert(ENV_SCHEMA, Value.Default(ENV_SCHEMA, picked))
  const firstError = Value.Errors(ENV_SCHEMA, converted).First()
  if (firstError) {
    const variable = firstError.path.replace(/^\//, '')
    throw new ConfigError(variable, `${firstError.message} (got ${JSON.stringify(raw[variable])})`)
  }
  return converted as Env
}

function intVar(raw: RawEnv, name: string, fallback: number, min = 0): number {
  const value = raw[name]?.trim()
  if (!value) return fallback
  if (!/^-?\d+$/.test(value) || Number(value) < min) {
    throw new ConfigError(name, `must be an integer >= ${min} (got ${JSON.stringify(value)})`)
  }
  return Number(value)
}

function httpUrl(raw: RawEnv, name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(name, `must be an http(s) URL (got ${JSON.stringify(raw[name] ?? value)})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `must be an http(s) URL (got ${JSON.stringify(value)})`)
  }
  return value.replace(/\/+$/, '')
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

function providerSettings(raw: RawEnv, env: Env, name: string, disabled: Set<string>): ProviderSettings {
  const prefix = name.toUpperCase().replace(/[^A-Z0-9]/g, '_')
  const apiKeys = keyPool(raw, prefix)
  const modelsVar = raw[`${prefix}_MODELS`]?.trim()
  const catchAll = modelsVar === '*' || (name === 'g4f' && !modelsVar)
  const models = modelsVar && modelsVar !== '*' ? list(modelsVar) : undefined
  const baseUrl = httpUrl(raw, `${prefix}_BASE_URL`, raw[`${prefix}_BASE_URL`]?.trim()) ?? DEFAULT_BASE_URLS[name]
  const keyless = KEYLESS_PROVIDERS.has(name)
  const hasEndpoint = name === 'g4f' ? Boolean(env.G4F_MAIN_API_BASE) : true
  const enabled = !disabled.has(name) && hasEndpoint && (keyless || name === 'g4f' || apiKeys.length > 0)
  const t = (suffix: string, global: number) => intVar(raw, `${prefix}_TIMEOUT_${suffix}`, global, 1)
  return {
    name,
    tier: intVar(raw, `PROVIDER_PRIORITY_${prefix}`, DEFAULT_PROVIDER_PRIORITIES[name] ?? DEFAULT_UNKNOWN_PROVIDER_TIER, 1),
    apiKeys,
    baseUrl,
    models,
    catchAll,
    enabled,
    timeouts: {
      connectMs: t('CONNECT_MS', env.TIMEOUT_CONNECT_MS),
      firstByteMs: t('FIRST_BYTE_MS', env.TIMEOUT_FIRST_BYTE_MS),
      firstByteMinMs: env.TIMEOUT_FIRST_BYTE_MIN_MS,
      adaptiveFactor: env.TIMEOUT_ADAPTIVE_FACTOR,
      idleMs: t('IDLE_MS', env.TIMEOUT_IDLE_MS),
      totalMs: t('TOTAL_MS', env.TIMEOUT_TOTAL_MS),
    },
  }
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `60000`, `30 s`, `1 minute`, `2 hours`: what @fastify/rate-limit accepts, checked at start-up. */
function durationMs(variable: string, value: string): number {
  const match = /^(\d+)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?)?$/i.exec(value.trim())
  if (!match || Number(match[1]) <= 0) throw new ConfigError(variable, `must be a duration such as 60000, "30 s" or "1 minute" (got ${JSON.stringify(value)})`)
  const unit = (match[2] ?? 'ms').toLowerCase()
  const key = unit.startsWith('ms') || unit.startsWith('milli') ? 'ms' : unit[0]
  return Number(match[1]) * DURATION_UNITS_MS[key]
}

/** `alias=target|target,alias2=target` → alias → ordered targets. */
function parseAliases(variable: string, value: string, separator: string): Map<string, string[]> {
  const aliases = new Map<string, string[]>()
  for (const entry of list(value)) {
    const eq = entry.indexOf('=')
    const alias = entry.slice(0, eq).trim()
    const targets = entry.slice(eq + 1).split(separator).map((s) => s.trim()).filter(Boolean)
    if (eq <= 0 || targets.length === 0) {
      throw new ConfigError(variable, `entries must look like alias=target${separator}target (got ${JSON.stringify(entry)})`)
    }
    aliases.set(alias, targets)
  }
  return aliases
}

/** Ollama's own OLLAMA_HOST is `host:port` or a URL; g4f's is a bare host. Accept all three. */
export function ollamaLocalBaseUrl(env: Pick<Env, 'OLLAMA_HOST' | 'OLLAMA_PORT' | 'OLLAMA_BASE_URL'>): string {
  if (env.OLLAMA_BASE_URL) return env.OLLAMA_BASE_URL.replace(/\/+$/, '').replace(/\/(v1|api)$/, '')
  const host = env.OLLAMA_HOST.trim()
  if (/^https?:\/\//.test(host)) return host.replace(/\/+$/, '')
  const withPort = /^\[.*\]:\d+$|^[^:\[\]]+:\d+$/.test(host) ? host : `${host}:${env.OLLAMA_PORT}`
  // 0.0.0.0 is where Ollama listens, not an address to connect to.
  return `http://${withPort.replace(/^0\.0\.0\.0(?=:)/, '127.0.0.1')}`
}

export function loadConfig(raw: RawEnv = process.env): Config {
  const env = parseFixedEnv(raw)
  const disabled = new Set(list(env.PROVIDERS_DISABLED).map((s) => s.toLowerCase()))
  const customProviders = list(env.CUSTOM_PROVIDERS).map((s) => s.toLowerCase())
  for (const name of customProviders) {
    if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new ConfigError('CUSTOM_PROVIDERS', `has an invalid name ${JSON.stringify(name)}`)
    if (BUILTIN_PROVIDERS.includes(name)) throw new ConfigError('CUSTOM_PROVIDERS', `names built-in provider ${JSON.stringify(name)}`)
    if (!raw[`${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_BASE_URL`]) {
      throw new ConfigError(`${name.toUpperCase()}_BASE_URL`, `is required for custom provider ${JSON.stringify(name)}`)
    }
  }
  const g4f = {
    main: httpUrl(raw, 'G4F_MAIN_API_BASE', env.G4F_MAIN_API_BASE),
    groq: httpUrl(raw, 'G4F_GROQ_API_BASE', env.G4F_GROQ_API_BASE),
    grok: httpUrl(raw, 'G4F_GROK_API_BASE', env.G4F_GROK_API_BASE),
    gemini: httpUrl(raw, 'G4F_GEMINI_API_BASE', env.G4F_GEMINI_API_BASE),
    nvidia: httpUrl(raw, 'G4F_NVIDIA_API_BASE', env.G4F_NVIDIA_API_BASE),
  }
  const providers: Record<string, ProviderSettings> = {}
  for (const name of [...BUILTIN_PROVIDERS, ...customProviders]) {
    providers[name] = providerSettings(raw, env, name, disabled)
  }
  // Custom providers are keyless-capable: a local vLLM or LM Studio needs no key.
  for (const name of customProviders) providers[name].enabled = !disabled.has(name)
  if (httpUrl(raw, 'OLLAMA_BASE_URL', env.OLLAMA_BASE_URL) === undefined && raw.OLLAMA_BASE_URL?.trim()) {
    throw new ConfigError('OLLAMA_BASE_URL', 'must be an http(s) URL')
  }
  const remote = raw.OLLAMA_REMOTE_BASE_URL !== undefined && raw.OLLAMA_REMOTE_BASE_URL.trim() === ''
    ? undefined // explicitly empty: the remote path is off
    : httpUrl(raw, 'OLLAMA_REMOTE_BASE_URL', env.OLLAMA_REMOTE_BASE_URL)
  const ollamaAliases = new Map([['gpt-oss-120b', 'gpt-oss:120b'], ['gpt-oss-20b', 'gpt-oss:20b']])
  for (const [alias, [target]] of parseAliases('OLLAMA_MODEL_ALIASES', env.OLLAMA_MODEL_ALIASES, '|')) ollamaAliases.set(alias, target)

  const gatewayApiKeys = list(env.GATEWAY_API_KEYS)
  const secrets = [
    ...Object.values(providers).flatMap((p) => p.apiKeys),
    ...gatewayApiKeys,
  ].filter((s) => s.length >= 4)

  return {
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
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
    },
    resilience: {
      maxAttempts: env.MAX_ATTEMPTS,
      retrySameProvider: env.RETRY_SAME_PROVIDER,
      retryBaseDelayMs: env.RETRY_BASE_DELAY_MS,
      maxCooldownWaitMs: env.MAX_COOLDOWN_WAIT_MS,
      keyAuthCooldownMs: env.KEY_AUTH_COOLDOWN_MS,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    },
    providers,
    customProviders,
    gatewayApiKeys,
    corsOrigins: list(env.CORS_ORIGINS),
    rateLimit: { max: env.RATE_LIMIT_MAX, window: env.RATE_LIMIT_WINDOW, windowMs: durationMs('RATE_LIMIT_WINDOW', env.RATE_LIMIT_WINDOW) },
    redisUrl: env.REDIS_URL,
    sessions: { ttlMs: env.SESSION_TTL_MS, maxMessages: env.SESSION_MAX_MESSAGES, maxCount: env.SESSION_MAX_COUNT },
    responses: { ttlMs: env.RESPONSES_TTL_MS, maxCount: env.RESPONSES_MAX_COUNT, maxBytes: env.RESPONSES_MAX_BYTES },
    openrouter: { siteUrl: env.OPENROUTER_SITE_URL, appName: env.OPENROUTER_APP_NAME },
    anthropic: { version: env.ANTHROPIC_VERSION, defaultMaxTokens: env.ANTHROPIC_DEFAULT_MAX_TOKENS },
    ollama: { localBaseUrl: ollamaLocalBaseUrl(env), remoteBaseUrl: remote, modelAliases: ollamaAliases },
    pollinations: { referrer: env.POLLINATIONS_REFERRER },
    g4f,
    secrets,
  }
}
