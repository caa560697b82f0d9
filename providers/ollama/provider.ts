// The Ollama adapter, dual mode (seed 000): models the local server has go to its native
// POST /api/chat and /api/embed; every other model goes to the remote OpenAI-compatible
// backup (an OpenAICompatibleProvider on OLLAMA_REMOTE_BASE_URL). Discovery fills both
// catalogs and the `live` score; an unreachable server empties its side quietly.
import type { CallContext, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResponse, Provider } from '../contract.ts'
import type { ProviderSettings } from '../../config.ts'
import { ndjsonBatches, type UpstreamHttp } from '../http/index.ts'
import { OpenAICompatibleProvider, discoveryContext } from '../openai-compatible.ts'
import { UpstreamError } from '../upstream-error.ts'
import { displayUrl } from '../../plugins/startup-summary.ts'
import { OllamaCatalog, ollamaTagNames } from './catalog.ts'
import { boundedCatalog } from '../catalog-bounds.ts'
import {
  fromOllamaChat, fromOllamaEmbed, ollamaChunks, toOllamaChat, toOllamaEmbed,
  type OllamaChatLine, type OllamaEmbedResponse,
} from './translate.ts'

export interface OllamaOptions {
  settings: ProviderSettings
  http: UpstreamHttp
  /** Where the local server listens, without a path (`http://127.0.0.1:11434`). */
  localBaseUrl: string
  /** The remote OpenAI-compatible backup (`…/v1`); undefined turns the remote path off. */
  remoteBaseUrl: string | undefined
  modelAliases: Map<string, string>
}

/** Ollama answers 400 for a model that lacks a capability (tools, thinking, chat): another provider may have it. */
function capabilityMiss(err: unknown): unknown {
  if (err instanceof UpstreamError && err.kind === 'client' && /does not support/i.test(err.message)) {
    return new UpstreamError('unsupported', err.message, { status: err.status, upstreamCode: err.upstreamCode })
  }
  return err
}

export class OllamaProvider implements Provider {
  readonly name = 'ollama'
  readonly #options: OllamaOptions
  readonly #catalog: OllamaCatalog
  readonly #remote: OpenAICompatibleProvider | undefined
  /** OLLAMA_MODELS fixes the local catalog; discovery then only checks the server is there. */
  readonly #fixedLocal: string[] | undefined

  constructor(options: OllamaOptions) {
    this.#options = options
    this.#catalog = new OllamaCatalog(options.modelAliases, options.remoteBaseUrl !== undefined)
    this.#fixedLocal = options.settings.models
    if (this.#fixedLocal) this.#catalog.local = [...this.#fixedLocal]
    this.#remote = options.remoteBaseUrl === undefined
      ? undefined
      : new OpenAICompatibleProvider({
          name: 'ollama',
          // The remote catalog is always discovered; OLLAMA_MODELS only fixes the local one.
          settings: { ...options.settings, baseUrl: options.remoteBaseUrl, models: undefined, catchAll: false },
          http: options.http,
          baseUrl: options.remoteBaseUrl,
        })
  }

  models(): string[] {
    return this.#catalog.models()
  }

  liveScore(): number {
    return this.#catalog.liveScore()
  }

  status(): Record<string, unknown> {
    const catalog = this.#catalog
    return {
      live: catalog.liveScore(),
      local: {
        baseUrl: displayUrl(this.#options.localBaseUrl),
        reachable: catalog.localReachable,
        version: catalog.localVersion ?? null,
        models: catalog.local.length,
        fixedCatalog: this.#fixedLocal !== undefined,
      },
      remote: this.#options.remoteBaseUrl === undefined
        ? null
        : { baseUrl: displayUrl(this.#options.remoteBaseUrl), reachable: catalog.remoteReachable, models: catalog.remote.length },
      aliases: Object.fromEntries(this.#options.modelAliases),
    }
  }

  async refresh(signal: AbortSignal): Promise<void> {
    // Both sides at once; neither failure may throw (a missing local server is normal).
    await Promise.all([this.#refreshLocal(signal), this.#refreshRemote(signal)])
  }

  async #refreshLocal(signal: AbortSignal): Promise<void> {
    const ctx = discoveryContext(this.#options.settings, signal)
    const base = this.#options.localBaseUrl
    try {
      const [tags, version] = await Promise.all([
        this.#options.http.json<unknown>({ url: `${base}/api/tags` }, ctx),
        this.#options.http.json<{ version?: string }>({ url: `${base}/api/version` }, ctx).catch(() => undefined),
      ])
      const names = boundedCatalog(ollamaTagNames(tags))
      this.#catalog.local = this.#fixedLocal ? [...this.#fixedLocal] : names
      this.#catalog.localReachable = true
      this.#catalog.localVersion = typeof version?.version === 'string' ? version.version.slice(0, 64) : undefined
    } catch {
      this.#catalog.localReachable = false
      // As in the seed: an unreachable server contributes no models (they go remote, if anywhere).
      if (!this.#fixedLocal) this.#catalog.local = []
    }
  }

  async #refreshRemote(signal: AbortSignal): Promise<void> {
    if (!this.#remote?.refresh) return
    try {
      await this.#remote.refresh(signal)
      this.#catalog.remote = this.#remote.models()
      this.#catalog.remoteReachable = true
    } catch {
      this.#catalog.remoteReachable = false
    }
  }

  async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    const route = this.#catalog.route(req.model)
    if (route.path === 'remote') return this.#remote!.chat({ ...req, model: route.model }, ctx)
    const request = { url: `${this.#options.localBaseUrl}/api/chat`, json: toOllamaChat(req, route.model) }
    try {
      if (req.stream) {
        const res = await this.#options.http.request({ ...request, expect: 'ndjson' }, ctx)
        return ollamaChunks(ndjsonBatches<OllamaChatLine>(res.body, ctx.signal), req.stream_options?.include_usage === true)
      }
      return fromOllamaChat(await this.#options.http.json<OllamaChatLine>(request, ctx))
    } catch (err) {
      throw capabilityMiss(err)
    }
  }

  async embed(req: EmbeddingRequest, ctx: CallContext): Promise<EmbeddingResponse> {
    const route = this.#catalog.route(req.model)
    if (route.path === 'remote') return this.#remote!.embed!({ ...req, model: route.model }, ctx)
    try {
      const body = await this.#options.http.json<OllamaEmbedResponse>(
        { url: `${this.#options.localBaseUrl}/api/embed`, json: toOllamaEmbed(req, route.model) },
        ctx,
      )
      return fromOllamaEmbed(body, route.model)
    } catch (err) {
      throw capabilityMiss(err)
    }
  }
}
