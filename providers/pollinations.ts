// Pollinations (PROTOCOLS.md §5): keyless, OpenAI-compatible text generation. Registers into
// `app.providers` unless PROVIDERS_DISABLED names it; depends on `registry` and `upstream`.
//
// Two URL layouts, told apart by POLLINATIONS_BASE_URL:
// - legacy, a base ending in `/openai` (the default https://text.pollinations.ai/openai):
//   chat is a POST to the base itself; the catalog is the sibling `/models`
//   (https://text.pollinations.ai/models, objects with `name` and `aliases`).
// - OpenAI-compatible, any other base (https://gen.pollinations.ai/v1; a bare origin gets /v1):
//   `{base}/chat/completions` and `{base}/models` (OpenAI's list).
import type { CallContext, ChatRequest, ChatResult, Provider } from './contract.ts'
import type { ProviderSettings } from '../config.ts'
import type { UpstreamHttp } from './http/index.ts'
import { bearer, discoveryContext, openAIModelIds } from './openai-compatible.ts'
import { normalizeCompletion, openAIChunks } from './openai-sse.ts'
import { providerPlugin } from './plugin.ts'
import { UpstreamError } from './upstream-error.ts'
import { Type } from '@sinclair/typebox'
import { declareProvider, OptStr } from './settings.ts'

export const settings = declareProvider({
  name: 'pollinations',
  tier: 5,
  keyless: true,
  baseUrl: 'https://text.pollinations.ai/openai',
  env: Type.Object({ POLLINATIONS_REFERRER: OptStr() }),
  options: (env) => ({ referrer: env.POLLINATIONS_REFERRER }),
})


export interface PollinationsLayout {
  legacy: boolean
  chatUrl: string
  modelsUrl: string
}

export function pollinationsLayout(baseUrl: string): PollinationsLayout {
  const url = new URL(baseUrl)
  const path = url.pathname.replace(/\/+$/, '')
  if (path.endsWith('/openai')) {
    return { legacy: true, chatUrl: `${url.origin}${path}`, modelsUrl: `${url.origin}${path.slice(0, -'/openai'.length)}/models` }
  }
  const base = `${url.origin}${path || '/v1'}`
  return { legacy: false, chatUrl: `${base}/chat/completions`, modelsUrl: `${base}/models` }
}

interface LegacyModel {
  name?: unknown
  aliases?: unknown
  output_modalities?: unknown
}

/** Legacy `/models` (an array of `{name, aliases, …}`) or OpenAI's `{data:[{id}]}`. */
export function pollinationsModelIds(body: unknown): string[] {
  if (!Array.isArray(body)) return openAIModelIds(body)
  const ids = (body as LegacyModel[]).flatMap((entry) => {
    if (typeof entry === 'string') return [entry]
    // Audio- or image-only entries cannot answer a chat completion.
    if (Array.isArray(entry.output_modalities) && !entry.output_modalities.includes('text')) return []
    const aliases = Array.isArray(entry.aliases) ? entry.aliases : [entry.aliases]
    return [entry.name, ...aliases]
  })
  return [...new Set(ids.filter((id): id is string => typeof id === 'string' && id.length > 0))]
}

/**
 * An anonymous client over its per-IP queue gets "Queue full for IP" — lately as a 402 with
 * an x402 payment offer. It is a rate limit, not a billing problem: treat it as a 429 so the
 * anonymous slot cools down instead of being hammered.
 */
function queueFullIsRateLimit(err: unknown): unknown {
  if (err instanceof UpstreamError && err.kind === 'payment' && /queue full/i.test(err.message)) {
    return new UpstreamError('rate_limited', err.message, { status: err.status, retryAfterMs: err.retryAfterMs, upstreamCode: err.upstreamCode })
  }
  return err
}

export class PollinationsProvider implements Provider {
  readonly name = 'pollinations'
  readonly catchAll: boolean
  readonly layout: PollinationsLayout
  readonly #settings: ProviderSettings
  readonly #http: UpstreamHttp
  readonly #referrer: string | undefined
  #catalog: string[]

  constructor(settings: ProviderSettings, http: UpstreamHttp, referrer: string | undefined) {
    if (!settings.baseUrl) throw new Error('provider pollinations has no base URL')
    this.layout = pollinationsLayout(settings.baseUrl)
    this.catchAll = settings.catchAll
    this.#settings = settings
    this.#http = http
    this.#referrer = referrer
    this.#catalog = settings.models ?? []
    if (settings.models) this.refresh = undefined
  }

  models(): string[] {
    return this.#catalog
  }

  #headers(apiKey: string | undefined): Record<string, string> {
    return { ...bearer(apiKey), ...(this.#referrer ? { referer: this.#referrer } : {}) }
  }

  /** Unreachable (no network, DNS failure) is normal: the registry logs it at debug level. */
  refresh?: (signal: AbortSignal, apiKey?: string) => Promise<void> = async (signal, apiKey) => {
    const body = await this.#http.json<unknown>(
      { url: this.layout.modelsUrl, headers: this.#headers(apiKey ?? this.#settings.apiKeys[0]) },
      discoveryContext(this.#settings, signal),
    )
    this.#catalog = pollinationsModelIds(body)
  }

  /**
   * The legacy endpoint takes `referrer` in the body too, and `private: true` keeps
   * anonymous prompts out of Pollinations' public feed.
   */
  #body(req: ChatRequest): ChatRequest {
    if (!this.layout.legacy) return req
    return { ...req, private: true, ...(this.#referrer ? { referrer: this.#referrer } : {}) }
  }

  async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    const request = { url: this.layout.chatUrl, headers: this.#headers(ctx.apiKey), json: this.#body(req) }
    try {
      if (req.stream) {
        const res = await this.#http.request({ ...request, expect: 'sse' }, ctx)
        return openAIChunks(res.body, ctx.signal)
      }
      return normalizeCompletion(await this.#http.json(request, ctx))
    } catch (err) {
      throw queueFullIsRateLimit(err)
    }
  }
}

export default providerPlugin('pollinations', (app, settings) =>
  new PollinationsProvider(settings, app.upstream, app.config.pollinations.referrer))
