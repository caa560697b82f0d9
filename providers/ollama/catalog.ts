// Ollama's two catalogs (seed 000's dual mode) and where a model goes: the local server's
// models (GET /api/tags, or OLLAMA_MODELS), the remote backup's models (GET …/models), and
// the model aliases. Pure state: the provider fills it from discovery.
import { UpstreamError } from '../upstream-error.ts'
import { catalogHas } from '../catalog-index.ts'

export type Route = { path: 'local' | 'remote'; model: string }

/** GET /api/tags → model names (`llama3.2:latest`). */
export function ollamaTagNames(body: unknown): string[] {
  const models = (body as { models?: Array<{ name?: unknown; model?: unknown } | null> })?.models
  if (!Array.isArray(models)) throw new UpstreamError('malformed', 'the /api/tags answer has no models array')
  return models
    .map((m) => (typeof m?.name === 'string' ? m.name : m?.model))
    .filter((name): name is string => typeof name === 'string' && name.length > 0)
}

const LATEST = ':latest'

export class OllamaCatalog {
  /** The local server's models (or OLLAMA_MODELS, which discovery never changes). */
  local: string[] = []
  remote: string[] = []
  localReachable = false
  remoteReachable = false
  localVersion: string | undefined
  readonly #aliases: Map<string, string>
  readonly #hasRemote: boolean

  constructor(aliases: Map<string, string>, hasRemote: boolean) {
    this.#aliases = aliases
    this.#hasRemote = hasRemote
  }

  /**
   * Seed 000's `live`: 0 = nothing reachable, 1 = one catalog, 2 = local and remote.
   * A catalog counts when its server answered with at least one model.
   */
  liveScore(): number {
    return (this.localReachable && this.local.length > 0 ? 1 : 0) + (this.remoteReachable && this.remote.length > 0 ? 1 : 0)
  }

  /** The local name a model is known by, if the local server has it. Ollama treats `x` as `x:latest`. */
  #localName(model: string): string | undefined {
    if (catalogHas(this.local, model)) return model
    if (!model.includes(':') && catalogHas(this.local, model + LATEST)) return model + LATEST
    return undefined
  }

  /** What models() built, and from which local and remote catalogs (each replaced whole on discovery, never changed in place). */
  #names: { local: string[]; remote: string[]; names: string[] } | undefined

  /**
   * Every name this provider answers to: local models (and bare names of `:latest` tags), remote
   * models, aliases with a target. Built once per pair of catalogs, not per request: the same
   * array until discovery replaces one (the Provider contract).
   */
  models(): string[] {
    const built = this.#names
    if (built !== undefined && built.local === this.local && built.remote === this.remote) return built.names
    const names = this.#build()
    this.#names = { local: this.local, remote: this.remote, names }
    return names
  }

  #build(): string[] {
    const names = new Set<string>()
    for (const name of this.local) {
      names.add(name)
      if (name.endsWith(LATEST)) names.add(name.slice(0, -LATEST.length))
    }
    for (const name of this.remote) names.add(name)
    for (const [alias, target] of this.#aliases) {
      if (this.#localName(target) || catalogHas(this.remote, target)) names.add(alias)
    }
    return [...names]
  }

  /**
   * Aliases resolve first; then a model the local server has goes local (really local: the
   * g4f original sent these to the remote host), anything else to the remote backup. A name
   * no catalog lists (a pinned `ollama/x`) goes remote when there is one, else local.
   */
  route(requested: string): Route {
    const model = this.#aliases.get(requested) ?? requested
    const local = this.#localName(model)
    if (local) return { path: 'local', model: local }
    if (this.#hasRemote) return { path: 'remote', model }
    return { path: 'local', model }
  }
}
