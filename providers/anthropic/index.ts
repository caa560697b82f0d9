// Anthropic, native Messages API: POST {base}/v1/messages with `x-api-key` and
// `anthropic-version`; catalog from GET {base}/v1/models (paginated) unless ANTHROPIC_MODELS
// fixes it. Registers into `app.providers` when ANTHROPIC_API_KEY is set; depends on
// `registry` and `upstream`. Translation lives in translate.ts (JSON) and stream.ts (SSE).
import type { CallContext, ChatRequest, ChatResult, Provider } from '../contract.ts'
import type { ProviderSettings } from '../../config.ts'
import type { UpstreamHttp } from '../http.ts'
import { discoveryContext } from '../openai-compatible.ts'
import { providerPlugin } from '../plugin.ts'
import { UpstreamError } from '../upstream-error.ts'
import { fromAnthropicResponse, toAnthropicRequest, unsupportedReason, type AnthropicResponse } from './translate.ts'
import { anthropicChunks } from './stream.ts'

/** Anthropic's page-size maximum for GET /v1/models. */
const MODELS_PAGE_LIMIT = 1000
/** A catalog is a few dozen models; this only bounds a misbehaving `has_more`. */
const MAX_MODEL_PAGES = 20

interface ModelsPage {
  data?: Array<{ id?: unknown; type?: string }>
  has_more?: boolean
  last_id?: string | null
}

export interface AnthropicOptions {
  settings: ProviderSettings
  http: UpstreamHttp
  version: string
  defaultMaxTokens: number
}

export class AnthropicProvider implements Provider {
  readonly name = 'anthropic'
  readonly catchAll: boolean
  readonly #options: AnthropicOptions
  readonly #baseUrl: string
  #catalog: string[]

  constructor(options: AnthropicOptions) {
    if (!options.settings.baseUrl) throw new Error('provider anthropic has no base URL')
    this.#options = options
    this.#baseUrl = options.settings.baseUrl.replace(/\/v1$/, '') // tolerate the SDK-style base with /v1
    this.catchAll = options.settings.catchAll
    this.#catalog = options.settings.models ?? []
    if (options.settings.models) this.refresh = undefined // a fixed catalog is not rediscovered
  }

  models(): string[] {
    return this.#catalog
  }

  #headers(apiKey: string | undefined): Record<string, string> {
    const headers: Record<string, string> = { 'anthropic-version': this.#options.version }
    if (apiKey) headers['x-api-key'] = apiKey
    return headers
  }

  refresh?: (signal: AbortSignal) => Promise<void> = async (signal) => {
    const ids: string[] = []
    let after: string | undefined
    for (let page = 0; page < MAX_MODEL_PAGES; page++) {
      const query = new URLSearchParams({ limit: String(MODELS_PAGE_LIMIT) })
      if (after) query.set('after_id', after)
      const body = await this.#options.http.json<ModelsPage>(
        { url: `${this.#baseUrl}/v1/models?${query}`, headers: this.#headers(this.#options.settings.apiKeys[0]) },
        discoveryContext(this.#options.settings, signal),
      )
      if (!Array.isArray(body?.data)) throw new UpstreamError('malformed', 'the /v1/models answer has no data array')
      ids.push(...body.data.map((m) => m.id).filter((id): id is string => typeof id === 'string'))
      if (!body.has_more || !body.last_id) break
      after = body.last_id
    }
    this.#catalog = ids
  }

  cannotServe(req: ChatRequest): string | undefined {
    return unsupportedReason(req)
  }

  async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    const body = toAnthropicRequest(req, this.#options.defaultMaxTokens)
    const request = { url: `${this.#baseUrl}/v1/messages`, headers: this.#headers(ctx.apiKey), json: body }
    if (req.stream) {
      const res = await this.#options.http.request({ ...request, expect: 'sse' }, ctx)
      return anthropicChunks(res.body, ctx.signal, req.stream_options?.include_usage === true)
    }
    return fromAnthropicResponse(await this.#options.http.json<AnthropicResponse>(request, ctx))
  }
}

export default providerPlugin('anthropic', (app, settings) => new AnthropicProvider({
  settings,
  http: app.upstream,
  version: app.config.anthropic.version,
  defaultMaxTokens: app.config.anthropic.defaultMaxTokens,
}))
