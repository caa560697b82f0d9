// One page of a stored response's input items, as GET /v1/responses/{id}/input_items lists them
// at OpenAI: newest first unless `order=asc`, `limit` items (1–100, default 20), cursors `after`
// and `before` naming an item id in the listed order, and `has_more` (dialects/paging.ts).
import { pageLimit, pageOf } from '../paging.ts'

export const DEFAULT_ITEMS_LIMIT = 20
export const MAX_ITEMS_LIMIT = 100

export interface ItemPageQuery {
  order?: 'asc' | 'desc'
  after?: string
  before?: string
  limit?: string
}

export interface ItemPage<T> {
  object: 'list'
  data: T[]
  first_id: string | null
  last_id: string | null
  has_more: boolean
}

/** Stored items carry the ids tiergate gave them (dialects/openai-responses/chain.ts). */
const idOf = (item: object): string | null => {
  const id = (item as { id?: unknown }).id
  return typeof id === 'string' ? id : null
}

/** The page `query` asks for; a query that cannot be answered throws PageQueryError (dialects/paging.ts). */
export function pageOfItems<T extends object>(items: readonly T[], query: ItemPageQuery): ItemPage<T> {
  const limit = pageLimit(query.limit, { defaultLimit: DEFAULT_ITEMS_LIMIT, maxLimit: MAX_ITEMS_LIMIT })
  const listed = query.order === 'asc' ? items : [...items].reverse()
  const { data, hasMore } = pageOf(listed, idOf, {
    limit,
    after: query.after === undefined ? undefined : { id: query.after, param: 'after' },
    before: query.before === undefined ? undefined : { id: query.before, param: 'before' },
  })
  return { object: 'list', data, first_id: data.length > 0 ? idOf(data[0]) : null, last_id: data.length > 0 ? idOf(data.at(-1)!) : null, has_more: hasMore }
}
