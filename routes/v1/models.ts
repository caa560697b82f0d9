// GET /v1/models and /v1/models/:id — the union of enabled providers' catalogs, plus aliases.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Model, ModelList, errorResponses } from './schemas.ts'

interface ModelObject {
  id: string
  object: 'model'
  created: number
  owned_by: string
  providers: string[]
}

export default async function models(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  function catalog(): ModelObject[] {
    const byId = new Map<string, ModelObject>()
    const entries = [...app.providers.list()].sort((a, b) => a.tier - b.tier)
    for (const entry of entries) {
      for (const id of entry.provider.models()) {
        const known = byId.get(id)
        if (known) known.providers.push(entry.name)
        else byId.set(id, { id, object: 'model', created: 0, owned_by: entry.name, providers: [entry.name] })
      }
    }
    for (const alias of app.config.routing.aliases.keys()) {
      const providers = [...new Set(app.router.candidates(alias).map((c) => c.entry.name))]
      if (providers.length && !byId.has(alias)) byId.set(alias, { id: alias, object: 'model', created: 0, owned_by: 'tiergate', providers })
    }
    return [...byId.values()]
  }

  app.get('/v1/models', {
    schema: { tags: ['OpenAI-compatible'], summary: 'List every model an enabled provider serves', response: { 200: ModelList, ...errorResponses } },
  }, async () => ({ object: 'list' as const, data: catalog() }))

  app.get('/v1/models/*', {
    schema: {
      tags: ['OpenAI-compatible'],
      summary: 'Retrieve one model (ids may contain slashes: `meta-llama/llama-3-8b`, `groq/llama3`)',
      params: Type.Object({ '*': Type.String() }),
      response: { 200: Model, ...errorResponses },
    },
  }, async (request) => {
    const id = request.params['*']
    const found = lookup(id)
    if (found) return found
    // The catalogs may be stale (a model pulled into Ollama a minute ago): one on-demand refresh,
    // rate-limited per provider as for a chat request that names an unknown model.
    if (await app.discovery.refreshForUnknownModel(id)) {
      const refreshed = lookup(id)
      if (refreshed) return refreshed
    }
    throw app.discovery.notFound(id)
  })

  function lookup(id: string): ModelObject | undefined {
    const listed = catalog().find((m) => m.id === id)
    if (listed) return listed
    // Pinned ids and catch-all providers serve names no catalog lists.
    const providers = [...new Set(app.router.candidates(id).map((c) => c.entry.name))]
    return providers.length === 0 ? undefined : { id, object: 'model', created: 0, owned_by: providers[0], providers }
  }
}
