// One null entry in a discovered catalog skips that entry; it must not fail the whole discovery
// (a TypeError there left the provider with no models at all).
import t from 'tap'
import { openAIModelIds } from '../../providers/openai-compatible.ts'
import { ollamaTagNames } from '../../providers/ollama/catalog.ts'

t.test('OpenAI /models: null and non-object entries are skipped', async (t) => {
  t.same(openAIModelIds({ data: [null, { id: 'a' }, 5, { id: 7 }, { id: 'b' }] }), ['a', 'b'])
})

t.test('Ollama /api/tags: null entries are skipped', async (t) => {
  t.same(ollamaTagNames({ models: [null, { name: 'llama3.2:latest' }, { model: 'qwen' }] }), ['llama3.2:latest', 'qwen'])
})

t.test('G4F /v1/models: null entries are skipped', async (t) => {
  const { g4fModelIds } = await import('../../providers/g4f.ts')
  t.same(g4fModelIds({ data: [null, { id: 'gpt-4o' }, { id: 'Copilot', provider: true }] }), ['gpt-4o'])
})

t.test('catalog bounds: ids of at most 256 characters, no control characters, each once, at most 10,000', async (t) => {
  const { boundedCatalog, MAX_CATALOG_MODELS, MAX_MODEL_ID_CHARS } = await import('../../providers/catalog-bounds.ts')
  const rows: Array<[string, string[], string[]]> = [
    ['kept as they came', ['gpt-4o', 'openai/gpt-4o-mini', 'llama3.2:latest'], ['gpt-4o', 'openai/gpt-4o-mini', 'llama3.2:latest']],
    ['empty dropped', ['', 'a'], ['a']],
    ['256 characters kept, 257 dropped', ['x'.repeat(MAX_MODEL_ID_CHARS), 'y'.repeat(MAX_MODEL_ID_CHARS + 1)], ['x'.repeat(MAX_MODEL_ID_CHARS)]],
    ['control characters dropped (log lines, headers)', ['a\nb', 'c\u0000', 'd\u007f', 'ok'], ['ok']],
    ['duplicates once, first place', ['b', 'a', 'b'], ['b', 'a']],
  ]
  for (const [name, ids, expected] of rows) t.same(boundedCatalog(ids), expected, name)
  const many = Array.from({ length: 25_000 }, (_, i) => `model-${i}`)
  const bounded = boundedCatalog(many)
  t.equal(bounded.length, MAX_CATALOG_MODELS)
  t.equal(bounded.at(-1), `model-${MAX_CATALOG_MODELS - 1}`, 'the first ones, in order')
})

t.test('a hostile /models (25,000 ids, some of 10 KB) is bounded in what the gateway holds and lists', async (t) => {
  const { startOpenAIMock } = await import('../mocks/openai.ts')
  const { startGateway } = await import('../helpers/gateway.ts')
  const models = Array.from({ length: 25_000 }, (_, i) => (i % 1000 === 0 ? `huge-${'z'.repeat(10_000)}-${i}` : `m-${i}`))
  const mock = await startOpenAIMock({ models })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'wide', WIDE_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const listed = await (await fetch(`${gw.url}/v1/models`)).json() as { data: Array<{ id: string }> }
  t.equal(listed.data.length, 10_000, 'at most 10,000 of them')
  t.ok(listed.data.every((m) => m.id.length <= 256), 'no id over 256 characters')
  t.ok(listed.data.some((m) => m.id === 'm-1') && !listed.data.some((m) => m.id.startsWith('huge-')))
})
