// Cursor paging as the OpenAI and Anthropic list endpoints do it: at most `limit` items, the page
// after one item id or before another, and whether the page stopped short (`has_more`). The
// official SDKs page on has_more and the last (or first) id, so a list is only complete if every
// page says what is left. Each dialect names its own parameters and shapes its own list object.

/** A query that cannot be answered: the parameter it names and why, for a 400. */
export class PageQueryError extends Error {
  readonly param: string
  constructor(param: string, message: string) {
    super(message)
    this.param = param
  }
}

export interface PageLimits {
  defaultLimit: number
  maxLimit: number
}

/** `limit` as a query string gives it: digits only, within 1…maxLimit. */
export function pageLimit(raw: string | undefined, limits: PageLimits, param = 'limit'): number {
  if (raw === undefined) return limits.defaultLimit
  const limit = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN
  if (!(limit >= 1 && limit <= limits.maxLimit)) throw new PageQueryError(param, `${param} must be a whole number from 1 to ${limits.maxLimit}; got ${JSON.stringify(raw.slice(0, 20))}.`)
  return limit
}

export interface PageQuery {
  /** The page after this id. */
  after?: { id: string; param: string }
  /** The page before this id. */
  before?: { id: string; param: string }
  limit: number
}

/**
 * One page of `listed` (already in the listed order). With `before` alone it is the `limit`
 * items just before that item (the previous page); otherwise the first `limit` after `after`
 * (or from the start). An id that is not in the list is a PageQueryError naming its parameter.
 */
export function pageOf<T>(listed: readonly T[], idOf: (item: T) => string | null, query: PageQuery): { data: T[]; hasMore: boolean } {
  const at = (cursor: { id: string; param: string }) => {
    const index = listed.findIndex((item) => idOf(item) === cursor.id)
    if (index < 0) throw new PageQueryError(cursor.param, `No item with id ${JSON.stringify(cursor.id.slice(0, 80))} in this list (\`${cursor.param}\` takes an id from an earlier page).`)
    return index
  }
  const start = query.after === undefined ? 0 : at(query.after) + 1
  const end = query.before === undefined ? listed.length : at(query.before)
  const window = listed.slice(start, Math.max(start, end))
  const backwards = query.before !== undefined && query.after === undefined
  const data = backwards ? window.slice(Math.max(0, window.length - query.limit)) : window.slice(0, query.limit)
  return { data, hasMore: window.length > query.limit }
}
