// The generic adapter for upstreams that speak OpenAI Chat Completions. Most providers are
// this adapter plus a parameter map: base URL, auth headers, a request tweak.
import type { CallContext, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResponse, Provider } from './contract.ts'
import type { ProviderSettings } from '../config.ts'
import type { UpstreamHttp } from './http/index.ts'
import { normalizeCompletion, openAIChunks } from './openai-sse.ts'
import { boundedCatalog } from './catalog-bounds.ts'
import { UpstreamError } from './upstream-error.ts'

export interface OpenAICompatibleOptions {
  name: string
  settings: ProviderSettings
  http: UpstreamHttp
  /** Defaults to settings.baseUrl. The `/chat/completions`, `/models`, `/embeddings` paths hang off it. */
  baseUrl?: string
  /** Headers for one attempt; default `Authorization: Bearer <key>` when a key is set. */
  headers?: (apiKey: string | undefined) => Record<string, string>
  /** Upstream dialect tweaks (Mistral's `random_seed`), applied to a copy of the request. */
  transformRequest?: (body: ChatRequest) => ChatRequest
  /** Some upstreams have no embeddings endpoint. */
  embeddings?: boolean
  /** Some upstreams cannot do everything (tools, …): say why, and the router skips them. */
  cannotServe?: (req: ChatRequest) => string | undefined
  /** Turn a discovered `/models` body into ids (default: OpenAI's `data[].id`). */
  parseModels?: (body: unknown) => string[]
}

export const bearer = (apiKey: string | undefined): Record<string, string> =>
  apiKey ? { authorization: `Bearer ${apiKey}` } : {}

export function openAIModelIds(body: unknown): string[] {
  const data = (body as { data?: Array<{ id?: unknown } | null> })?.data
  if (!Array.isArray(data)) throw new UpstreamError('malformed', 'the /models answer has no data array')
  return data.map((m) => m?.id).filter((id): id is string => typeof id === 'string')
}

/** Discovery has no request: it runs with its own signal and the provider's timeouts. */
export function discoveryContext(settings: ProviderSettings, signal: AbortSignal): Pick<CallContext, 'signal' | 'timeouts'> {
  const { connectMs, totalMs, idleMs, firstByteMs } = settings.timeouts
  return { signal, timeouts: { connectMs, totalMs, idleMs, firstByteMs } }
}

export class OpenAICompatibleProvider implements Provider {
  readonly name: string
  readonly catchAll: boolean
  /** Servers differ (vLLM continues a final assistant message, many reject it): learned from a 400. */
  readonly acceptsPrefill: boolean | 'learn' = 'learn'
  protected readonly options: OpenAICompatibleOptions
  protected readonly baseUrl: string
  protected catalog: string[]

  constructor(options: OpenAICompatibleOptions) {
    const baseUrl = options.baseUrl ?? options.settings.baseUrl
    if (!baseUrl) throw new Error(`provider ${options.name} has no base URL`)
    this.name = options.name
    this.options = options
    this.baseUrl = baseUrl
    this.catchAll = options.settings.catchAll
    this.catalog = options.settings.models ?? []
    // A fixed catalog (`<NAME>_MODELS`) is not rediscovered.
    if (options.settings.models) this.refresh = undefined
  }

  models(): string[] {
    return this.catalog
  }

  refresh?: (signal: AbortSignal, apiKey?: string) => Promise<void> = async (signal, apiKey) => {
    const body = await this.options.http.json<unknown>(
      { url: `${this.baseUrl}/models`, headers: this.headers(apiKey ?? this.options.settings.apiKeys[0]) },
      discoveryContext(this.options.settings, signal),
    )
    this.catalog = boundedCatalog((this.options.parseModels ?? openAIModelIds)(body))
  }

  cannotServe(req: ChatRequest): string | undefined {
    return this.options.cannotServe?.(req)
  }

  protected headers(apiKey: string | undefined): Record<string, string> {
    return (this.options.headers ?? bearer)(apiKey)
  }

  async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    const body = this.options.transformRequest ? this.options.transformRequest({ ...req }) : req
    const request = { url: `${this.baseUrl}/chat/completions`, headers: this.headers(ctx.apiKey), json: body }
    if (req.stream) {
      const res = await this.options.http.request({ ...request, expect: 'sse' }, ctx)
      return openAIChunks(res.body, ctx.signal)
    }
    return normalizeCompletion(await this.options.http.json(request, ctx))
  }

  get embed(): ((req: EmbeddingRequest, ctx: CallContext) => Promise<EmbeddingResponse>) | undefined {
    if (this.options.embeddings === false) return undefined
    return async (req, ctx) => {
      const body = await this.options.http.json<EmbeddingResponse>(
        { url: `${this.baseUrl}/embeddings`, headers: this.headers(ctx.apiKey), json: req },
        ctx,
      )
      if (!Array.isArray(body?.data)) throw new UpstreamError('malformed', 'the embeddings answer has no data array')
      return body
    }
  }
}
