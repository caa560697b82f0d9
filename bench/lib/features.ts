// The feature scenarios of `npm run bench`: each is the plain stream path plus one feature that
// sits on it, configured the way a user would turn it on. A scenario whose route or setting does
// not exist (yet) is reported as not measured, never silently skipped.
import type { Server } from './procs.ts'

export interface Feature {
  name: string
  /** Environment on top of PLAIN_ENV; `redisUrl` is set for a feature that needs Redis. */
  env: (origin: string, redisUrl?: string) => Record<string, string>
  /** Runs beside a throwaway redis-server (the one the tests use); not measured without one. */
  needsRedis?: boolean
  path: string
  body: string | (() => string)
  headers?: Record<string, string>
  /** A response that proves the feature is on (checked once before measuring). */
  check?: (response: Response, text: string) => string | undefined
}

/** One OpenAI-compatible provider, everything else default. */
export const PLAIN_ENV = (origin: string): Record<string, string> => ({
  CUSTOM_PROVIDERS: 'bench',
  BENCH_BASE_URL: `${origin}/v1`,
  BENCH_MODELS: 'bench-model',
})

const messages = [{ role: 'user', content: 'Say hello.' }]
const chatStream = JSON.stringify({ model: 'bench-model', stream: true, messages })
let sessionTurn = 0
let missTurn = 0

export const FEATURES: Feature[] = [
  { name: 'plain stream (Chat Completions in and out)', env: () => ({}), path: '/v1/chat/completions', body: chatStream },
  {
    // Every deployment with a paid provider has a key, and every answer is scrubbed of it (plugins/secret-guard.ts).
    name: 'a provider key configured (answers scrubbed of it)',
    env: () => ({ BENCH_API_KEY: 'sk-bench-0123456789abcdefghijklmnop' }),
    path: '/v1/chat/completions',
    body: chatStream,
  },
  {
    name: 'Anthropic Messages in, OpenAI upstream',
    env: () => ({}),
    path: '/v1/messages',
    body: JSON.stringify({ model: 'bench-model', max_tokens: 256, stream: true, messages }),
    headers: { 'anthropic-version': '2023-06-01' },
    check: (_res, text) => (text.includes('message_stop') ? undefined : 'no message_stop event'),
  },
  {
    name: 'OpenAI Responses in, Chat Completions upstream',
    env: () => ({}),
    path: '/v1/responses',
    body: JSON.stringify({ model: 'bench-model', stream: true, store: false, input: 'Say hello.' }),
    check: (_res, text) => (text.includes('response.completed') ? undefined : 'no response.completed event'),
  },
  {
    // The docker-compose default: Ollama beside the gateway, its native NDJSON API translated to Chat Completions.
    name: 'Ollama upstream (native /api/chat, NDJSON)',
    env: (origin) => ({
      CUSTOM_PROVIDERS: '', PROVIDERS_DISABLED: 'gpt4all,pollinations,local',
      OLLAMA_BASE_URL: origin, OLLAMA_MODELS: 'bench-model', OLLAMA_REMOTE_BASE_URL: '',
    }),
    path: '/v1/chat/completions',
    body: chatStream,
    check: (res) => (res.headers.get('x-tiergate-provider') === 'ollama' ? undefined : `answered by ${res.headers.get('x-tiergate-provider')}`),
  },
  {
    // A paid cloud with its own dialect (and its key: scrubbed out of every answer), translated to Chat Completions.
    name: 'Anthropic upstream (Messages API SSE, with its key)',
    env: (origin) => ({ CUSTOM_PROVIDERS: '', ANTHROPIC_API_KEY: 'sk-ant-bench-0123456789abcdefghij', ANTHROPIC_BASE_URL: origin, ANTHROPIC_MODELS: 'bench-model' }),
    path: '/v1/chat/completions',
    body: chatStream,
    check: (res) => (res.headers.get('x-tiergate-provider') === 'anthropic' ? undefined : `answered by ${res.headers.get('x-tiergate-provider')}`),
  },
  {
    name: 'resumed stream (tier 1 cut after 10 of 20 chunks, finished by tier 2)',
    env: (origin) => ({
      CUSTOM_PROVIDERS: 'cutter,bench',
      CUTTER_BASE_URL: `${origin}/cut/v1`, CUTTER_MODELS: 'bench-model', PROVIDER_PRIORITY_CUTTER: '1',
      BENCH_BASE_URL: `${origin}/v1`, BENCH_MODELS: 'bench-model', PROVIDER_PRIORITY_BENCH: '2',
      // Every stream must be cut and resumed: the breaker must not take tier 1 out.
      BREAKER_VOLUME_THRESHOLD: '1000000000', BREAKER_ERROR_THRESHOLD_PERCENTAGE: '100',
    }),
    path: '/v1/chat/completions',
    body: chatStream,
    check: (_res, text) => (text.includes('[DONE]') && !text.includes('"error"') ? undefined : 'the cut stream was not finished'),
  },
  {
    name: 'response cache hit (CACHE_TTL_MS)',
    env: () => ({ CACHE_TTL_MS: '600000' }),
    path: '/v1/chat/completions',
    body: JSON.stringify({ model: 'bench-model', stream: true, temperature: 0, messages }),
    check: (res) => (res.headers.get('x-tiergate-cache') ? undefined : 'no x-tiergate-cache header'),
  },
  {
    // Every request new: the key, the answer built and stored, in this process.
    name: 'response cache miss (memory store)',
    env: () => ({ CACHE_TTL_MS: '600000' }),
    path: '/v1/chat/completions',
    body: () => JSON.stringify({ model: 'bench-model', stream: true, temperature: 0, messages: [{ role: 'user', content: `Say hello ${missTurn++}.` }] }),
    check: (res) => (res.headers.get('x-tiergate-cache') === 'miss' ? undefined : `x-tiergate-cache: ${res.headers.get('x-tiergate-cache')}`),
  },
  {
    // Every request new: each one leads (the Redis lock), streams through the live relay other
    // instances would follow (one XADD per batch, the heartbeat), and fills the shared cache.
    name: 'response cache miss with REDIS_URL (the lock, the live relay, the fill)',
    env: (_origin, redisUrl) => ({ CACHE_TTL_MS: '600000', REDIS_URL: redisUrl! }),
    needsRedis: true,
    path: '/v1/chat/completions',
    body: () => JSON.stringify({ model: 'bench-model', stream: true, temperature: 0, messages: [{ role: 'user', content: `Say hello ${missTurn++}.` }] }),
    check: (res) => (res.headers.get('x-tiergate-cache') === 'miss' ? undefined : `x-tiergate-cache: ${res.headers.get('x-tiergate-cache')}`),
  },
  {
    name: 'OpenTelemetry traces on (OTLP/HTTP to a local receiver)',
    env: (origin) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: origin, OTEL_SERVICE_NAME: 'tiergate-bench' }),
    path: '/v1/chat/completions',
    body: chatStream,
  },
  {
    name: 'sessions on (session_id, memory store)',
    env: () => ({ SESSION_MAX_MESSAGES: '20' }),
    path: '/v1/chat/completions',
    body: () => JSON.stringify({ model: 'bench-model', stream: true, session_id: `bench-${sessionTurn++ % 100}`, messages }),
  },
]

/** One request before measuring: undefined when the feature answers as it should. */
export async function probe(gateway: Server, feature: Feature): Promise<string | undefined> {
  // Twice: a cache needs one miss before its hit. A body made per request is made per request here too.
  for (let i = 0; i < 2; i++) {
    const body = typeof feature.body === 'string' ? feature.body : feature.body()
    const response = await fetch(`http://127.0.0.1:${gateway.port}${feature.path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...feature.headers }, body,
    }).catch((err: Error) => err)
    if (response instanceof Error) return response.message
    const text = await response.text()
    if (!response.ok) return `HTTP ${response.status}`
    if (i === 1 && feature.check) return feature.check(response, text)
  }
  return undefined
}
