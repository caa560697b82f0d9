// Ollama's configuration: where the local server is (Ollama's own OLLAMA_HOST forms, g4f's
// OLLAMA_PORT), the remote OpenAI-compatible backup, and model-name aliases. Keyless.
import { declareProvider, httpUrl, parseAliases, ConfigError, Int, OptStr, Str } from '../settings.ts'
import { Type } from '@sinclair/typebox'

export const DEFAULT_OLLAMA_PORT = 11434
export const DEFAULT_OLLAMA_REMOTE_BASE_URL = 'https://g4f.space/api/ollama/v1'
/** gpt-oss names as OpenAI-style clients write them → Ollama's tags. */
const BUILTIN_OLLAMA_ALIASES: Array<[string, string]> = [['gpt-oss-120b', 'gpt-oss:120b'], ['gpt-oss-20b', 'gpt-oss:20b']]

const env = Type.Object({
  OLLAMA_HOST: Str('localhost'),
  OLLAMA_PORT: Int(DEFAULT_OLLAMA_PORT, 1, 65535),
  OLLAMA_BASE_URL: OptStr(),
  OLLAMA_REMOTE_BASE_URL: Str(DEFAULT_OLLAMA_REMOTE_BASE_URL),
  OLLAMA_MODEL_ALIASES: Str(''),
})

/** Ollama's own OLLAMA_HOST is `host:port` or a URL; g4f's is a bare host. Accept all three. */
export function ollamaLocalBaseUrl(env: { OLLAMA_HOST: string; OLLAMA_PORT: number; OLLAMA_BASE_URL?: string }): string {
  if (env.OLLAMA_BASE_URL) return env.OLLAMA_BASE_URL.replace(/\/+$/, '').replace(/\/(v1|api)$/, '')
  const host = env.OLLAMA_HOST.trim()
  if (/^https?:\/\//.test(host)) return host.replace(/\/+$/, '')
  const withPort = /^\[.*\]:\d+$|^[^:\[\]]+:\d+$/.test(host) ? host : `${host}:${env.OLLAMA_PORT}`
  // 0.0.0.0 is where Ollama listens, not an address to connect to.
  return `http://${withPort.replace(/^0\.0\.0\.0(?=:)/, '127.0.0.1')}`
}

export const settings = declareProvider({
  name: 'ollama',
  tier: 4,
  keyless: true,
  env,
  options: (env, raw) => {
    if (httpUrl(raw, 'OLLAMA_BASE_URL', env.OLLAMA_BASE_URL) === undefined && raw.OLLAMA_BASE_URL?.trim()) {
      throw new ConfigError('OLLAMA_BASE_URL', 'must be an http(s) URL')
    }
    const remoteBaseUrl = raw.OLLAMA_REMOTE_BASE_URL !== undefined && raw.OLLAMA_REMOTE_BASE_URL.trim() === ''
      ? undefined // explicitly empty: the remote path is off
      : httpUrl(raw, 'OLLAMA_REMOTE_BASE_URL', env.OLLAMA_REMOTE_BASE_URL)
    const modelAliases = new Map(BUILTIN_OLLAMA_ALIASES)
    for (const [alias, [target]] of parseAliases('OLLAMA_MODEL_ALIASES', env.OLLAMA_MODEL_ALIASES, '|')) modelAliases.set(alias, target)
    return { localBaseUrl: ollamaLocalBaseUrl(env), remoteBaseUrl, modelAliases }
  },
})
