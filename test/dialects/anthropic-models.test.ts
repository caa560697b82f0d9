// GET /v1/models for Anthropic clients: the Anthropic SDK's models.list() (auto-paginated over
// limit/after_id) and models.retrieve() get Anthropic's ModelInfo; errors come in Anthropic's
// envelope; the OpenAI SDK keeps OpenAI's shape on the same routes.
import t from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { anthropicModelPage } from '../../dialects/anthropic-messages/models.ts'
import type { PageQueryError } from '../../dialects/paging.ts'

const MODELS = ['m1', 'm2', 'm3', 'm4', 'm5']

t.test('paging rule: limit, after_id, before_id, has_more', async (t) => {
  const rows: Array<[string, Record<string, string>, string[], boolean]> = [
    ['default 20', {}, MODELS, false],
    ['limit=2', { limit: '2' }, ['m1', 'm2'], true],
    ['after_id=m2, limit=2', { limit: '2', after_id: 'm2' }, ['m3', 'm4'], true],
    ['after_id=m4', { after_id: 'm4' }, ['m5'], false],
    ['before_id=m4, limit=2: the page just before', { limit: '2', before_id: 'm4' }, ['m2', 'm3'], true],
  ]
  for (const [name, query, ids, hasMore] of rows) {
    const page = anthropicModelPage(MODELS, query)
    t.same(page.data.map((m) => m.id), ids, name)
    t.equal(page.has_more, hasMore, `${name}: has_more`)
    t.equal(page.first_id, ids[0] ?? null)
    t.equal(page.last_id, ids.at(-1) ?? null)
  }
  t.same(anthropicModelPage(MODELS, { limit: '1' }).data[0], { type: 'model', id: 'm1', display_name: 'm1', created_at: '1970-01-01T00:00:00Z' })
  for (const [query, param] of [[{ limit: '1001' }, 'limit'], [{ after_id: 'nope' }, 'after_id']] as const) {
    const err = t.throws(() => anthropicModelPage(MODELS, query)) as PageQueryError
    t.equal(err.param, param, JSON.stringify(query))
  }
})

t.test('through the Anthropic SDK and the OpenAI SDK', async (t) => {
  const mock = await startOpenAIMock({ models: MODELS })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0 })

  const ids: string[] = []
  for await (const model of anthropic.models.list({ limit: 2 })) ids.push(model.id)
  t.same(ids, MODELS, 'auto-pagination over limit/after_id: every model once')
  const first = await anthropic.models.list({ limit: 2 })
  t.same(first.data.map((m) => m.type), ['model', 'model'])
  t.equal(first.has_more, true)

  const one = await anthropic.models.retrieve('m3')
  t.same(one, { type: 'model', id: 'm3', display_name: 'm3', created_at: '1970-01-01T00:00:00Z' })

  const missing = await anthropic.models.retrieve('nope').then(() => undefined, (err) => err)
  t.ok(missing instanceof Anthropic.NotFoundError, 'a 404 the SDK recognises')
  t.match(missing.error, { type: 'error', error: { type: 'not_found_error' } }, "in Anthropic's envelope")
  const bad = await fetch(`${gw.url}/v1/models?limit=0`, { headers: { 'anthropic-version': '2023-06-01' } })
  t.equal(bad.status, 400)
  t.match(await bad.json(), { type: 'error', error: { type: 'invalid_request_error' } })

  const openai = await gw.client.models.list()
  t.same(openai.data.map((m) => m.id), MODELS, 'the OpenAI SDK still gets OpenAI list objects')
  t.equal((openai.data[0] as any).object, 'model')
  const notFound = await fetch(`${gw.url}/v1/models/nope`)
  t.match(await notFound.json(), { error: { code: 'model_not_found' } }, "and OpenAI's envelope")
})
