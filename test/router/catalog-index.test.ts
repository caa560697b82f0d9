// Catalog membership (providers/catalog-index.ts, issue 14): a Set per catalog array instead
// of a scan per provider per request. What must hold: the same answers as `includes`, a
// replaced catalog seen at once (a Set is never stale), and providers whose catalog is built
// (Ollama's names, G4F's merged endpoints, the local model) handing out the same array until
// it changes — else every request would build a new Set.
import t from 'tap'
import { SCAN_BELOW, catalogHas } from '../../providers/catalog-index.ts'
import { OllamaCatalog } from '../../providers/ollama/catalog.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'

const big = Array.from({ length: 2_000 }, (_, i) => `vendor/model-${i}`)
const small = ['gpt-4o-mini', 'gpt-4o', 'o3-mini']

t.test('the same answers as includes, scanned or indexed', async (t) => {
  const cases: Array<[string, readonly string[], string, boolean]> = [
    ['small, listed', small, 'gpt-4o', true],
    ['small, a prefix of a listed id', small, 'gpt-4', false],
    ['small, empty name', small, '', false],
    ['empty catalog', [], 'gpt-4o', false],
    ['big, first', big, 'vendor/model-0', true],
    ['big, last', big, 'vendor/model-1999', true],
    ['big, unlisted', big, 'vendor/model-2000', false],
    ['big, a listed id with a suffix', big, 'vendor/model-1:latest', false],
    ['big, case differs', big, 'Vendor/model-1', false],
    ['exactly the scan bound', big.slice(0, SCAN_BELOW), `vendor/model-${SCAN_BELOW - 1}`, true],
  ]
  for (const [name, catalog, model, expected] of cases) {
    t.equal(catalogHas(catalog, model), expected, name)
    t.equal(catalogHas(catalog, model), catalog.includes(model), `${name}: as includes`)
  }
})

t.test('a replaced catalog is a new array, and is seen at once', async (t) => {
  const before = [...big]
  t.notOk(catalogHas(before, 'late-model'), 'indexed without it')
  const after = [...big, 'late-model']
  t.ok(catalogHas(after, 'late-model'), 'the new array is indexed on its own')
  t.notOk(catalogHas(before, 'late-model'), 'the old one keeps its own answer')
  const shrunk = big.slice(1)
  t.notOk(catalogHas(shrunk, 'vendor/model-0'), 'a model dropped from the catalog is gone')
})

t.test('Ollama: the same names array until a catalog is replaced', async (t) => {
  const catalog = new OllamaCatalog(new Map([['fast', 'llama3.2:latest'], ['remote-alias', 'gpt-4o-mini']]), true)
  catalog.local = ['llama3.2:latest', 'qwen2.5:7b']
  const first = catalog.models()
  t.equal(catalog.models(), first, 'asked again: the same array')
  t.same([...first].sort(), ['fast', 'llama3.2', 'llama3.2:latest', 'qwen2.5:7b'].sort(), 'local names, the bare :latest name, an alias with a target')

  catalog.remote = ['gpt-4o-mini']
  const withRemote = catalog.models()
  t.not(withRemote, first, 'a new remote catalog: a new array')
  t.ok(withRemote.includes('gpt-4o-mini') && withRemote.includes('remote-alias'), 'with the remote model and the alias it gives a target')

  catalog.local = []
  const withoutLocal = catalog.models()
  t.notOk(withoutLocal.includes('llama3.2') || withoutLocal.includes('fast'), 'local names gone with the local catalog, and the alias that pointed there')
  t.equal(catalog.route('qwen2.5:7b').path, 'remote', 'a model the local server dropped goes remote')
})

t.test('a discovered catalog of 2,000 models: served, and a model discovery adds later is served too', async (t) => {
  const mock = await startOpenAIMock({ models: big })
  mock.fallback = { content: 'Hello from big' }
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'big', BIG_BASE_URL: mock.baseUrl, RATE_LIMIT_MAX: '0', PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations,local,g4f',
    DISCOVERY_ON_DEMAND_INTERVAL_MS: '0',
  })
  t.teardown(async () => {
    await gw.close()
    await mock.close()
  })
  const hi = [{ role: 'user' as const, content: 'hi' }]
  const listed = await gw.client.chat.completions.create({ model: 'vendor/model-1234', messages: hi })
  t.equal(listed.choices[0].message.content, 'Hello from big', 'a model deep in the catalog is routed')

  mock.models = [...big, 'late-model']
  const late = await gw.client.chat.completions.create({ model: 'late-model', messages: hi })
  t.equal(late.choices[0].message.content, 'Hello from big', 'the rediscovered catalog is matched, not a stale index of the old one')
})
