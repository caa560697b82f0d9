// GET /v1/responses/{id}/input_items pages as OpenAI's does (limit, order, after, before,
// has_more): the pure paging rule as a table, then through the official openai SDK, whose
// auto-pagination follows has_more + last_id.
import t from 'tap'
import { pageOfItems, type ItemPageQuery } from '../../dialects/openai-responses/input-items.ts'
import { PageQueryError } from '../../dialects/paging.ts'
import { startTwoTiers } from '../helpers/two-tiers.ts'

const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, type: 'message' }))
const ids = (page: { data: Array<{ id: string }> }) => page.data.map((i) => i.id).join('')

t.test('paging rule (stored oldest first: a b c d e)', async (t) => {
  const rows: Array<[string, ItemPageQuery, string, boolean]> = [
    ['default: newest first, up to 20', {}, 'edcba', false],
    ['order=asc', { order: 'asc' }, 'abcde', false],
    ['limit=2', { limit: '2' }, 'ed', true],
    ['limit=2 after e', { limit: '2', after: 'e' }, 'dc', true],
    ['limit=2 after c', { limit: '2', after: 'c' }, 'ba', false],
    ['after the last item: empty', { after: 'a' }, '', false],
    ['asc, limit=2 after b', { order: 'asc', limit: '2', after: 'b' }, 'cd', true],
    ['before c (desc): the previous page', { before: 'c' }, 'ed', false],
    ['before a, limit=2: the two just before it', { before: 'a', limit: '2' }, 'cb', true],
    ['after e and before b', { after: 'e', before: 'b' }, 'dc', false],
    ['limit=100', { limit: '100' }, 'edcba', false],
    ['limit exactly the size', { limit: '5' }, 'edcba', false],
  ]
  for (const [name, query, expected, hasMore] of rows) {
    const page = pageOfItems(items, query)
    t.equal(ids(page), expected, name)
    t.equal(page.has_more, hasMore, `${name}: has_more`)
    t.equal(page.first_id, page.data[0]?.id ?? null, `${name}: first_id`)
    t.equal(page.last_id, page.data.at(-1)?.id ?? null, `${name}: last_id`)
  }
  t.same(pageOfItems([], {}), { object: 'list', data: [], first_id: null, last_id: null, has_more: false })
  t.same(items.map((i) => i.id), ['a', 'b', 'c', 'd', 'e'], 'the stored list is not reordered in place')
})

t.test('queries that cannot be answered name their parameter', async (t) => {
  const bad: Array<[ItemPageQuery, string]> = [
    [{ limit: '0' }, 'limit'], [{ limit: '101' }, 'limit'], [{ limit: '2.5' }, 'limit'], [{ limit: 'ten' }, 'limit'], [{ limit: '' }, 'limit'], [{ limit: '-1' }, 'limit'],
    [{ after: 'nope' }, 'after'], [{ before: 'nope' }, 'before'],
  ]
  for (const [query, param] of bad) {
    const err = t.throws(() => pageOfItems(items, query)) as PageQueryError
    t.ok(err instanceof PageQueryError, JSON.stringify(query))
    t.equal(err.param, param, JSON.stringify(query))
  }
})

t.test('through the openai SDK: one page at a time, and auto-pagination over every item', async (t) => {
  const { gw } = await startTwoTiers(t)
  const input = ['one', 'two', 'three', 'four', 'five'].map((text) => ({ role: 'user' as const, content: text }))
  const created = await gw.client.responses.create({ model: 'gpt-4o-mini', input })

  const first = await fetch(`${gw.url}/v1/responses/${created.id}/input_items?limit=2`).then((r) => r.json()) as any
  t.same(first.data.map((i: any) => i.content), ['five', 'four'], 'newest first, two of them')
  t.equal(first.has_more, true)
  t.equal(first.first_id, first.data[0].id)
  t.equal(first.last_id, first.data[1].id)

  const all: string[] = []
  for await (const item of gw.client.responses.inputItems.list(created.id, { limit: 2 })) all.push((item as any).content)
  t.same(all, ['five', 'four', 'three', 'two', 'one'], 'the SDK followed has_more/after to the end, nothing twice')

  const asc: string[] = []
  for await (const item of gw.client.responses.inputItems.list(created.id, { limit: 3, order: 'asc' })) asc.push((item as any).content)
  t.same(asc, ['one', 'two', 'three', 'four', 'five'])

  for (const [query, param] of [['limit=0', 'limit'], ['limit=abc', 'limit'], ['after=msg_nope', 'after']] as const) {
    const res = await fetch(`${gw.url}/v1/responses/${created.id}/input_items?${query}`)
    t.equal(res.status, 400, query)
    const body = await res.json() as any
    t.equal(body.error.type, 'invalid_request_error', query)
    t.equal(body.error.param, param, query)
  }
})
