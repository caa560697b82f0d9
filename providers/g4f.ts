// G4F (seed 001): up to five OpenAI-compatible G4F endpoints behind one provider, chosen by
// model name. Registers into `app.providers` when G4F_MAIN_API_BASE is set; depends on
// `registry` and `upstream`. The fallback of last resort: tier 5 and a catch-all by default.
// No embeddings (the router skips it for them) and no cost calculation.
import type { CallContext, ChatRequest, ChatResult, Provider } from './contract.ts'
import type { ProviderSettings } from '../config.ts'
import type { UpstreamHttp } from './http/index.ts'
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'
import { UpstreamError } from './upstream-error.ts'
import { Type } from '@sinclair/typebox'
import { declareProvider, httpUrl, OptStr } from './settings.ts'

const G4F_BASE_VARIABLES = {
  main: 'G4F_MAIN_API_BASE',
  groq: 'G4F_GROQ_API_BASE',
  grok: 'G4F_GROK_API_BASE',
  gemini: 'G4F_GEMINI_API_BASE',
  nvidia: 'G4F_NVIDIA_API_BASE',
} as const

/** Keyless-capable but needs its main endpoint; a catch-all unless G4F_MODELS lists models. */
export const settings = declareProvider({
  name: 'g4f',
  tier: 5,
  catchAllByDefault: true,
  env: Type.Object({
    G4F_MAIN_API_BASE: OptStr(),
    G4F_GROQ_API_BASE: OptStr(),
    G4F_GROK_API_BASE: OptStr(),
    G4F_GEMINI_API_BASE: OptStr(),
    G4F_NVIDIA_API_BASE: OptStr(),
  }),
  options: (env, raw): Partial<Record<G4FEndpoint, string>> => Object.fromEntries(
    Object.entries(G4F_BASE_VARIABLES).map(([endpoint, variable]) => [endpoint, httpUrl(raw, variable, env[variable])]),
  ),
  enabled: (bases) => Boolean(bases.main),
})


export type G4FEndpoint = 'main' | 'groq' | 'grok' | 'gemini' | 'nvidia'

/** Seed 001's routing, first match wins (model names compared in lower case). */
export const G4F_ROUTES: ReadonlyArray<{ endpoint: Exclude<G4FEndpoint, 'main'>; matches: (model: string) => boolean }> = [
  { endpoint: 'nvidia', matches: (m) => m.startsWith('nvidia/') || m.includes('nemotron') },
  { endpoint: 'grok', matches: (m) => m.startsWith('grok') },
  { endpoint: 'gemini', matches: (m) => m.startsWith('gemini') },
  { endpoint: 'groq', matches: (m) => m.startsWith('llama') || m.startsWith('mixtral') || m.startsWith('gemma') },
]

/** The endpoint a model goes to: its rule's, or main when no rule matches or that endpoint is not configured. */
export function g4fEndpointFor(model: string, configured: ReadonlySet<G4FEndpoint>): G4FEndpoint {
  const rule = G4F_ROUTES.find((r) => r.matches(model.toLowerCase()))
  return rule && configured.has(rule.endpoint) ? rule.endpoint : 'main'
}

/** G4F's key goes in its own header and as Bearer (the G4F API server accepts either). */
export function g4fHeaders(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { 'g4f-api-key': apiKey, authorization: `Bearer ${apiKey}` } : {}
}

/**
 * G4F's /v1/models lists provider names beside models (`provider: true`) and image
 * generators (`image: true`): neither can answer a chat request.
 */
export function g4fModelIds(body: unknown): string[] {
  const data = (body as { data?: Array<{ id?: unknown; provider?: unknown; image?: unknown } | null> })?.data
  if (!Array.isArray(data)) throw new UpstreamError('malformed', 'the /models answer has no data array')
  return data
    .filter((m) => m?.provider !== true && m?.image !== true)
    .map((m) => m?.id)
    .filter((id): id is string => typeof id === 'string')
}

interface EndpointState {
  adapter: OpenAICompatibleProvider
  /** Whether its /models answered at the last discovery (undefined: not tried yet). */
  reachable: boolean | undefined
}

export class G4FProvider implements Provider {
  readonly name = 'g4f'
  readonly catchAll: boolean
  readonly #settings: ProviderSettings
  readonly #endpoints = new Map<G4FEndpoint, EndpointState>()
  readonly #configured: ReadonlySet<G4FEndpoint>

  constructor(settings: ProviderSettings, bases: Partial<Record<G4FEndpoint, string>>, http: UpstreamHttp) {
    if (!bases.main) throw new Error('provider g4f needs G4F_MAIN_API_BASE')
    this.#settings = settings
    this.catchAll = settings.catchAll
    for (const [endpoint, baseUrl] of Object.entries(bases) as Array<[G4FEndpoint, string | undefined]>) {
      if (!baseUrl) continue
      const adapter = new OpenAICompatibleProvider({
        name: 'g4f',
        // Each endpoint discovers its own catalog; G4F_MODELS narrows the provider, not them.
        settings: { ...settings, baseUrl, models: undefined, catchAll: false },
        http,
        baseUrl,
        headers: g4fHeaders,
        embeddings: false,
        parseModels: g4fModelIds,
      })
      this.#endpoints.set(endpoint, { adapter, reachable: undefined })
    }
    this.#configured = new Set(this.#endpoints.keys())
    if (settings.models) this.refresh = undefined
  }

  /** The merged catalog, and the endpoint catalogs it was merged from (each replaced whole by its refresh). */
  #merged: { from: string[][]; names: string[] } | undefined

  /**
   * The endpoints' catalogs merged, each name once: merged again only when an endpoint's catalog
   * was replaced, not per request — the same array until then (the Provider contract).
   */
  models(): string[] {
    if (this.#settings.models) return this.#settings.models
    const from = [...this.#endpoints.values()].map((e) => e.adapter.models())
    const merged = this.#merged
    if (merged !== undefined && merged.from.every((catalog, i) => catalog === from[i])) return merged.names
    const names = [...new Set(from.flat())]
    this.#merged = { from, names }
    return names
  }

  /** Every endpoint's /models, each on its own: one that does not answer keeps its last catalog. */
  refresh?: (signal: AbortSignal, apiKey?: string) => Promise<void> = async (signal, apiKey) => {
    const states = [...this.#endpoints]
    const errors: string[] = []
    await Promise.all(states.map(async ([name, state]) => {
      try {
        await state.adapter.refresh!(signal, apiKey)
        state.reachable = true
      } catch (err) {
        state.reachable = false
        errors.push(`${name}: ${(err as Error).message}`)
      }
    }))
    // The registry logs this at debug level; a partial answer is still a catalog.
    if (errors.length === states.length) throw new UpstreamError('connection', `no G4F endpoint listed its models (${errors.join('; ')})`)
  }

  endpointFor(model: string): G4FEndpoint {
    return g4fEndpointFor(model, this.#configured)
  }

  chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    return this.#endpoints.get(this.endpointFor(req.model))!.adapter.chat(req, ctx)
  }

  status(): Record<string, unknown> {
    return {
      // Seed 001's skip_cost_calculation: G4F answers have no price to compute.
      skipCostCalculation: true,
      embeddings: false,
      endpoints: Object.fromEntries([...this.#endpoints].map(([name, state]) => [name, {
        catalogSize: state.adapter.models().length,
        reachable: state.reachable ?? null,
      }])),
    }
  }
}

export default providerPlugin('g4f', (app, settings) => new G4FProvider(settings, app.config.g4f, app.upstream))
