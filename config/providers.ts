// What the provider declarations (providers/settings.ts, listed in providers/builtin.ts) mean
// for the configuration: the built-in tables, each provider's `<NAME>_*` family
// (providerSettings) and CUSTOM_PROVIDERS.
import { BUILTIN_DECLARATIONS } from '../providers/builtin.ts'
import { ConfigError, list, httpUrl, type ProviderDeclaration, type RawEnv } from '../providers/settings.ts'
import { DEFAULT_UNKNOWN_PROVIDER_TIER } from './defaults.ts'
import { intVar } from './parse.ts'
import type { Env } from './schema.ts'

type Declaration = (typeof BUILTIN_DECLARATIONS)[number]
export const DECLARATIONS: ReadonlyArray<ProviderDeclaration> = BUILTIN_DECLARATIONS as ReadonlyArray<ProviderDeclaration>

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
export function providerSettings(raw: RawEnv, env: Env, name: string, declaration: ProviderDeclaration | undefined, options: unknown): ProviderSettings {
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

export function customProviderNames(raw: RawEnv, env: Env): string[] {
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
