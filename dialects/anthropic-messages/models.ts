// GET /v1/models and /v1/models/{id} for an Anthropic client (one that sends
// `anthropic-version`, as the Anthropic SDKs always do): Anthropic's ModelInfo
// `{type: "model", id, display_name, created_at}` and its list `{data, first_id, last_id,
// has_more}`, paged by `limit` (1–1000, default 20), `after_id` and `before_id`. tiergate knows
// no release dates: `created_at` is the epoch, as Anthropic documents for an unknown one. Pure.
import { pageLimit, pageOf } from '../paging.ts'

export const DEFAULT_MODELS_LIMIT = 20
export const MAX_MODELS_LIMIT = 1000
const UNKNOWN_RELEASE = new Date(0).toISOString().replace('.000Z', 'Z')

export interface AnthropicModelInfo {
  type: 'model'
  id: string
  display_name: string
  created_at: string
}

export interface AnthropicModelsQuery {
  limit?: string
  after_id?: string
  before_id?: string
}

/** Whether a request speaks Anthropic's dialect: the SDKs send `anthropic-version` on every call. */
export const isAnthropicClient = (headers: Record<string, string | string[] | undefined>) => headers['anthropic-version'] !== undefined

export const anthropicModelInfo = (id: string): AnthropicModelInfo => ({ type: 'model', id, display_name: id, created_at: UNKNOWN_RELEASE })

export function anthropicModelPage(ids: readonly string[], query: AnthropicModelsQuery) {
  const limit = pageLimit(query.limit, { defaultLimit: DEFAULT_MODELS_LIMIT, maxLimit: MAX_MODELS_LIMIT })
  const { data, hasMore } = pageOf(ids, (id) => id, {
    limit,
    after: query.after_id === undefined ? undefined : { id: query.after_id, param: 'after_id' },
    before: query.before_id === undefined ? undefined : { id: query.before_id, param: 'before_id' },
  })
  return { data: data.map(anthropicModelInfo), first_id: data[0] ?? null, last_id: data.at(-1) ?? null, has_more: hasMore }
}
