// GET /v1/models and /v1/models/:id — the union of enabled providers' catalogs, plus aliases, in OpenAI's shape or, for an Anthropic client, Anthropic's (dialects/anthropic-messages/models.ts).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Model, ModelList, errorResponses } from './schemas.ts'
import { invalidRequest } from '../../plugins/errors.ts'
import { PageQueryError } from '../../dialects/paging.ts'
import { anthropicModelInfo, anthropicModelPage, isAnthropicClient, type AnthropicModelsQuery } from '../../dialects/anthropic-messages/models.ts'

const AnthropicModel = Type.Object({ type: Type.Literal('model'), id: Type.String(), display_name: Type.String(), created_at: Type.String() })
const AnthropicModelList = Type.Object({ data: Type.Array(AnthropicModel), first_id: Type.Union([Type.String(), Type.Null()]), last_id: Type.Union([Type.String(), Type.Null()]), has_more: Type.Boolean() })
/** Either dialect's list, documented with an example of each (OpenAI's first). */
const EitherModelList = Type.Union([ModelList, AnthropicModelList], {
  examples: [...(ModelList.examples as unknown[]), { data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'claude-sonnet-4-5', created_at: '1970-01-01T00:00:00Z' }], first_id: 'claude-sonnet-4-5', last_id: 'claude-sonnet-4-5', has_more: false }],
})

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
    config: { dialect: 'client' },
    schema: {
      tags: ['OpenAI-compatible'],
      summary: 'List every model an enabled provider serves',
      description: "OpenAI's list. An Anthropic client (one that sends `anthropic-version`) gets Anthropic's: `{data: [{type, id, display_name, created_at}], first_id, last_id, has_more}`, paged by `limit` (1–1000, default 20), `after_id` and `before_id`.",
      querystring: Type.Object({ limit: Type.Optional(Type.String()), after_id: Type.Optional(Type.String()), before_id: Type.Optional(Type.String()) }, { additionalProperties: true }),
      response: { 200: EitherModelList, ...errorResponses },
    },
  }, async (request) => {
    if (!isAnthropicClient(request.headers)) return { object: 'list' as const, data: catalog() }
    try {
      return anthropicModelPage(catalog().map((m) => m.id), request.query as AnthropicModelsQuery)
    } catch (err) {
      if (err instanceof PageQueryError) throw invalidRequest(err.message, err.param)
      throw err
    }
  })

  app.get('/v1/models/*', {
    config: { dialect: 'client' },
    schema: {
      tags: ['OpenAI-compatible'],
      summary: 'Retrieve one model (ids may contain slashes: `meta-llama/llama-3-8b`, `groq/llama3`)',
      params: Type.Object({ '*': Type.String() }),
      response: { 200: Type.Union([Model, AnthropicModel]), ...errorResponses },
    },
  }, async (request) => {
    const id = request.params['*']
    const anthropic = isAnthropicClient(request.headers)
    const found = lookup(id)
    if (found) return anthropic ? anthropicModelInfo(found.id) : found
    // The catalogs may be stale (a model pulled into Ollama a minute ago): one on-demand refresh,
    // rate-limited per provider as for a chat request that names an unknown model.
    if (await app.discovery.refreshForUnknownModel(id)) {
      const refreshed = lookup(id)
      if (refreshed) return anthropic ? anthropicModelInfo(refreshed.id) : refreshed
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
