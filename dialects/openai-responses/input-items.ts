// One page of a stored response's input items, as GET /v1/responses/{id}/input_items lists them
// at OpenAI: newest first unless `order=asc`, `limit` items (1–100, default 20), cursors `after`
// and `before` naming an item id in the listed order, and `has_more` when the page stopped short.
// The official SDKs page on `has_more` + `last_id` (`after`), so a list longer than one page is
// only complete if every page says what is left.

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

/** A query that cannot be answered: the parameter it names and why, for a 400. */
export class ItemPageError extends Error {
  readonly param: string
  constructor(param: string, message: string) {
    super(message)
    this.param = param
  }
}

function limitOf(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_ITEMS_LIMIT
  const limit = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN
  if (!(limit >= 1 && limit <= MAX_ITEMS_LIMIT)) throw new ItemPageError('limit', `limit must be a whole number from 1 to ${MAX_ITEMS_LIMIT}; got ${JSON.stringify(raw.slice(0, 20))}.`)
  return limit
}

/** Stored items carry the ids tiergate gave them (dialects/openai-responses/chain.ts). */
const idOf = (item: object): string | null => {
  const id = (item as { id?: unknown }).id
  return typeof id === 'string' ? id : null
}

function cursorAt(listed: object[], id: string, param: 'after' | 'before'): number {
  const at = listed.findIndex((item) => idOf(item) === id)
  if (at < 0) throw new ItemPageError(param, `No input item with id ${JSON.stringify(id.slice(0, 80))} in this response (\`${param}\` takes an id from an earlier page).`)
  return at
}

/**
 * The page `query` asks for. With `before` alone it is the `limit` items just before that item
 * (the previous page); otherwise the first `limit` items after `after` (or from the start).
 */
export function pageOfItems<T extends object>(items: readonly T[], query: ItemPageQuery): ItemPage<T> {
  const limit = limitOf(query.limit)
  const listed = query.order === 'asc' ? [...items] : [...items].reverse()
  const start = query.after === undefined ? 0 : cursorAt(listed, query.after, 'after') + 1
  const end = query.before === undefined ? listed.length : cursorAt(listed, query.before, 'before')
  const window = listed.slice(start, Math.max(start, end))
  const backwards = query.before !== undefined && query.after === undefined
  const data = backwards ? window.slice(Math.max(0, window.length - limit)) : window.slice(0, limit)
  return { object: 'list', data, first_id: data.length > 0 ? idOf(data[0]) : null, last_id: data.length > 0 ? idOf(data.at(-1)!) : null, has_more: window.length > limit }
}
