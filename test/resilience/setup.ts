// Shared set-up for the resilience tests: N OpenAI-compatible mock upstreams as custom
// providers in chosen tiers (optionally with key pools), the gateway in front of them,
// and raw-HTTP helpers for what the SDK hides (status, headers, SSE frames, Retry-After).
import type { Test } from 'tap'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

export const MODEL = 'gpt-4o-mini'

export interface ProviderSpec {
  name: string
  tier: number
  keys?: string[]
  /** Point the provider here instead of at a fresh mock (e.g. a refused port). */
  url?: string
}

export interface Tiers {
  gw: Gateway
  mocks: Record<string, OpenAIMock>
}

/** Mocks for every spec without a url, the gateway configured with them as custom providers. */
export async function startTiers(t: Test, specs: ProviderSpec[], env: Record<string, string> = {}): Promise<Tiers> {
  const mocks: Record<string, OpenAIMock> = {}
  const providerEnv: Record<string, string> = { CUSTOM_PROVIDERS: specs.map((s) => s.name).join(',') }
  for (const spec of specs) {
    const prefix = spec.name.toUpperCase()
    let baseUrl = spec.url
    if (!baseUrl) {
      const mock = await startOpenAIMock({ models: [MODEL] })
      mock.fallback = { content: `Hello from ${spec.name}` }
      mocks[spec.name] = mock
      baseUrl = mock.baseUrl
    }
    providerEnv[`${prefix}_BASE_URL`] = baseUrl
    providerEnv[`${prefix}_MODELS`] = MODEL
    providerEnv[`PROVIDER_PRIORITY_${prefix}`] = String(spec.tier)
    if (spec.keys) providerEnv[`${prefix}_API_KEY`] = spec.keys.join(',')
  }
  // The gateway's own client rate limit is another feature: off, so that hundreds of requests
  // in one test measure only the upstream side.
  const gw = await startGateway({ RATE_LIMIT_MAX: '0', ...providerEnv, ...env })
  t.teardown(async () => {
    await gw.close()
    for (const mock of Object.values(mocks)) await mock.close()
  })
  return { gw, mocks }
}

export interface ChatResult {
  status: number
  headers: Headers
  /** Parsed JSON body (non-stream or error), else undefined. */
  json: any
  /** SSE `data:` payloads in order (stream answers). */
  frames: string[]
  text: string
}

const REQUEST_DEADLINE_MS = 15_000

/** One chat request with fetch; never hangs longer than REQUEST_DEADLINE_MS. */
export async function chat(gw: Gateway, opts: { stream?: boolean; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<ChatResult> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: JSON.stringify({ model: MODEL, stream: opts.stream === true, messages: [{ role: 'user', content: 'hi' }] }),
    signal: opts.signal ?? AbortSignal.timeout(REQUEST_DEADLINE_MS),
  })
  const text = await res.text()
  let json: any
  try { json = JSON.parse(text) } catch { json = undefined }
  const frames = text.split('\n\n').map((f) => f.trim()).filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))
  return { status: res.status, headers: res.headers, json, frames, text }
}

/** The content a stream carried, joined. */
export function streamedText(frames: string[]): string {
  return frames
    .filter((f) => f !== '[DONE]')
    .map((f) => JSON.parse(f))
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('')
}

export async function providerStatus(gw: Gateway, name: string): Promise<any> {
  const res = await fetch(`${gw.url}/providers`)
  const body = await res.json() as { providers: Array<{ name: string }> }
  return body.providers.find((p) => p.name === name)
}

/** Polls `check` until it is true, or fails after `ms`: no sleeping for timing. */
export async function until(check: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
