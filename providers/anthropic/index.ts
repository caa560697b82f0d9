// Anthropic, native Messages API: POST {base}/v1/messages with `x-api-key` and
// `anthropic-version`; catalog from GET {base}/v1/models (paginated) unless ANTHROPIC_MODELS
// fixes it. Registers into `app.providers` when ANTHROPIC_API_KEY is set; depends on
// `registry` and `upstream`. Translation lives in translate.ts (JSON) and stream.ts (SSE);
// native passthrough for Messages clients (the client's body as it is) in native.ts.
import { NATIVE, NATIVE_WIRE, type CallContext, type ChatRequest, type ChatResult, type NativeRequest, type Provider } from '../contract.ts'
import type { ProviderSettings } from '../../config.ts'
import type { UpstreamHttp } from '../http/index.ts'
import { discoveryContext } from '../openai-compatible.ts'
import { providerPlugin } from '../plugin.ts'
import { limitsOf, readBounded } from '../http/index.ts'
import { UpstreamError, toUpstreamError } from '../upstream-error.ts'
import { boundedCatalog } from '../catalog-bounds.ts'
import { nativeCountBody, nativeMessagesBody } from './native.ts'
import { fromAnthropicResponse, toAnthropicRequest, unsupportedReason, type AnthropicResponse } from './translate.ts'
import { anthropicChunks } from './stream.ts'
import { parseUpstreamJson } from '../json-depth.ts'

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
  /** Messages continues a final assistant turn (prefill): a resume continues in place. */
  readonly acceptsPrefill = true
  readonly #options: AnthropicOptions
  readonly #baseUrl: string
  #catalog: string[]
  #countTurn = 0

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

  /** A native request forwards the client's anthropic-version and anthropic-beta as they are. */
  #headers(apiKey: string | undefined, client: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { 'anthropic-version': this.#options.version, ...client }
    if (apiKey) headers['x-api-key'] = apiKey
    return headers
  }

  refresh?: (signal: AbortSignal, apiKey?: string) => Promise<void> = async (signal, apiKey) => {
    const ids: string[] = []
    let after: string | undefined
    for (let page = 0; page < MAX_MODEL_PAGES; page++) {
      const query = new URLSearchParams({ limit: String(MODELS_PAGE_LIMIT) })
      if (after) query.set('after_id', after)
      const body = await this.#options.http.json<ModelsPage>(
        { url: `${this.#baseUrl}/v1/models?${query}`, headers: this.#headers(apiKey ?? this.#options.settings.apiKeys[0]) },
        discoveryContext(this.#options.settings, signal),
      )
      if (!Array.isArray(body?.data)) throw new UpstreamError('malformed', 'the /v1/models answer has no data array')
      ids.push(...body.data.map((m) => m.id).filter((id): id is string => typeof id === 'string'))
      if (!body.has_more || !body.last_id) break
      after = body.last_id
    }
    this.#catalog = boundedCatalog(ids)
  }

  cannotServe(req: ChatRequest): string | undefined {
    // The client's own Messages body goes as it is: nothing in it needs translating.
    if (nativeOf(req)) return undefined
    return unsupportedReason(req)
  }

  async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    const native = nativeOf(req)
    const stream = req.stream === true
    const body = native ? nativeMessagesBody(native, req.model, stream) : toAnthropicRequest(req, this.#options.defaultMaxTokens)
    const request = { url: `${this.#baseUrl}/v1/messages`, headers: this.#headers(ctx.apiKey, native?.headers), json: body }
    if (stream) {
      const res = await this.#options.http.request({ ...request, expect: 'sse' }, ctx)
      return anthropicChunks(res.body, ctx.signal, req.stream_options?.include_usage === true, native !== undefined)
    }
    if (!native) return fromAnthropicResponse(await this.#options.http.json<AnthropicResponse>(request, ctx))
    // Native: the upstream's own body text reaches a Messages client byte for byte.
    const text = await this.#bodyText(request, ctx)
    const completion = fromAnthropicResponse(parseJson<AnthropicResponse>(text))
    completion[NATIVE_WIRE] = { dialect: 'anthropic-messages', text }
    return completion
  }

  /**
   * POST /v1/messages/count_tokens with a Messages client's own body (model replaced). Counting
   * is free and limited apart from messages, so it takes the pool's keys in turn without
   * touching the chat cooldowns.
   */
  async countTokens(body: Record<string, unknown>, model: string, signal: AbortSignal, clientHeaders: Record<string, string> = {}): Promise<number> {
    const keys = this.#options.settings.apiKeys
    const apiKey = keys.length ? keys[this.#countTurn++ % keys.length] : undefined
    const request = { url: `${this.#baseUrl}/v1/messages/count_tokens`, headers: this.#headers(apiKey, clientHeaders), json: nativeCountBody(body, model) }
    const answer = await this.#options.http.json<{ input_tokens?: unknown }>(request, discoveryContext(this.#options.settings, signal))
    if (typeof answer?.input_tokens !== 'number') throw new UpstreamError('malformed', 'the count_tokens answer has no input_tokens')
    return answer.input_tokens
  }

  async #bodyText(request: { url: string; headers: Record<string, string>; json: unknown }, ctx: CallContext): Promise<string> {
    const res = await this.#options.http.request({ ...request, expect: 'json' }, ctx)
    try {
      // Bounded like every upstream read (UPSTREAM_MAX_BODY_BYTES, issue 9 item 6).
      return (await readBounded(res.body, limitsOf(res.body).maxBodyBytes, res.headers['content-length'])).toString('utf8')
    } catch (err) {
      throw toUpstreamError(err, ctx.signal)
    }
  }
}

function nativeOf(req: ChatRequest): NativeRequest | undefined {
  const native = req[NATIVE]
  return native?.dialect === 'anthropic-messages' ? native : undefined
}

function parseJson<T>(text: string): T {
  try {
    return parseUpstreamJson<T>(text)
  } catch (err) {
    if (err instanceof UpstreamError) throw err
    throw new UpstreamError('malformed', `truncated or invalid JSON from upstream (${text.length} bytes)`)
  }
}

export default providerPlugin('anthropic', (app, settings) => new AnthropicProvider({
  settings,
  http: app.upstream,
  version: app.config.anthropic.version,
  defaultMaxTokens: app.config.anthropic.defaultMaxTokens,
}))
