// What a provider module declares about its configuration, and the small env-parsing helpers
// those declarations use. config.ts collects every declaration (providers/builtin.ts lists
// them) into one validated Config: adding a provider is its own module (plugin + declaration),
// one line in providers/builtin.ts and one in app.ts — config.ts is not touched.
//
// This file imports nothing but TypeBox, and provider modules must not import *values* from
// config.ts: config.ts imports the declarations, so such an import would be a cycle.
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox'

export type RawEnv = Record<string, string | undefined>

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`)
    this.name = 'ConfigError'
  }
}

/** Node's timers take a signed 32-bit delay: anything larger fires after 1 ms (issue 9 item 17). */
export const MAX_TIMER_MS = 2 ** 31 - 1

export const Int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ default: def, minimum: min, maximum: max })
/** A timer value in ms: at most MAX_TIMER_MS, so that setTimeout really waits that long. */
export const Ms = (def: number, min = 0) => Int(def, min, MAX_TIMER_MS)
export const Str = (def: string) => Type.String({ default: def })
export const OptStr = () => Type.Optional(Type.String())

export const list = (value: string | undefined): string[] =>
  (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)

/** An http(s) URL without trailing slashes, or undefined when unset. */
export function httpUrl(raw: RawEnv, name: string, value: string | undefined): string | undefined {
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

/** `alias=target|target,alias2=target` → alias → ordered targets. */
export function parseAliases(variable: string, value: string, separator: string): Map<string, string[]> {
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

/**
 * One provider's configuration. Every provider gets the `<NAME>_*` family (`_API_KEY[_n]`,
 * `_BASE_URL`, `_MODELS`, `_TIMEOUT_*_MS`, `PROVIDER_PRIORITY_<NAME>`) from config.ts; `env`
 * declares its own extra variables, validated with the general ones, and `options` turns them
 * into `app.config.<name>`.
 */
export interface ProviderDeclaration<Name extends string = string, P extends TProperties = TProperties, O = unknown> {
  name: Name
  /** Seeded tier (1 = tried first) unless PROVIDER_PRIORITY_<NAME> says otherwise. */
  tier: number
  /** Public default of `<NAME>_BASE_URL`. */
  baseUrl?: string
  /** Enabled without a key; PROVIDERS_DISABLED turns it off. */
  keyless?: boolean
  /** Without `<NAME>_MODELS` it accepts any model name (as if `<NAME>_MODELS=*`). */
  catchAllByDefault?: boolean
  /** The provider's own variables beyond the `<NAME>_*` family. */
  env?: TObject<P>
  /** `app.config.<name>`, from those variables (already validated against `env`). */
  options?: (env: Static<TObject<P>>, raw: RawEnv) => O
  /** Replaces the default enable rule (keyless, or a key is set); PROVIDERS_DISABLED still wins. */
  enabled?: (options: O, apiKeys: string[]) => boolean
}

/** Identity, for inference: the name stays a literal type, `options` sees typed `env`. */
export function declareProvider<const Name extends string, P extends TProperties = TProperties, O = undefined>(
  declaration: ProviderDeclaration<Name, P, O>,
): ProviderDeclaration<Name, P, O> {
  return declaration
}
