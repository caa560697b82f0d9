// Catalog discovery from GET {base}/models at start-up and on MODELS_REFRESH_MS; a fixed
// <NAME>_MODELS is never rediscovered; an unreachable upstream never blocks start-up.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { refusedUrl } from '../mocks/server.ts'
import { startGateway } from '../helpers/gateway.ts'

t.test('catalog discovered at start-up, served by /v1/models with owned_by', async (t) => {
  const mock = await startOpenAIMock({ models: ['disc-a', 'disc-b'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'finder', FINDER_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const list = await gw.client.models.list()
  t.same(list.data.map((m) => [m.id, m.owned_by]), [['disc-a', 'finder'], ['disc-b', 'finder']])
  const one = await gw.client.models.retrieve('disc-b')
  t.equal(one.owned_by, 'finder')
  t.equal((await gw.client.models.retrieve('nope').catch((e: any) => e)).status, 404)
})

t.test('the catalog is refreshed in the background', async (t) => {
  const mock = await startOpenAIMock({ models: ['old'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'finder', FINDER_BASE_URL: mock.baseUrl, MODELS_REFRESH_MS: '50' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  mock.models = ['old', 'new-model']
  const deadline = Date.now() + 5000
  let ids: string[] = []
  while (!ids.includes('new-model') && Date.now() < deadline) {
    ids = (await gw.client.models.list()).data.map((m) => m.id)
    await new Promise((r) => setTimeout(r, 20))
  }
  t.ok(ids.includes('new-model'), 'the new model appeared')
  const answer = await gw.client.chat.completions.create({ model: 'new-model', messages: [{ role: 'user', content: 'x' }] })
  t.equal(answer.choices[0].message.content, 'Hello from mock')
})

t.test('a fixed <NAME>_MODELS catalog is not rediscovered', async (t) => {
  const mock = await startOpenAIMock({ models: ['discovered'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'fixed', FIXED_BASE_URL: mock.baseUrl, FIXED_MODELS: 'pinned-a,pinned-b' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  t.same((await gw.client.models.list()).data.map((m) => m.id), ['pinned-a', 'pinned-b'])
  t.equal(mock.requests.filter((r) => r.url === '/v1/models').length, 0)
})

t.test('an unreachable provider does not block start-up and logs no error', async (t) => {
  // With a 10-minute discovery limit, a start-up that waited on the dead upstream would hang
  // this test; it completes because a refused connection fails discovery at once.
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'gone', GONE_BASE_URL: `${await refusedUrl()}/v1`, DISCOVERY_TIMEOUT_MS: '600000' })
  t.teardown(() => gw.close())
  t.same((await gw.client.models.list()).data, [])
  t.notOk(gw.logs.some((l) => JSON.parse(l).level >= 50), 'no error-level log line')
})

t.test('a provider that answers /models with garbage keeps an empty catalog, quietly', async (t) => {
  const mock = await startOpenAIMock({ models: [] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'odd', ODD_BASE_URL: `${mock.origin}/not-there` })
  t.teardown(async () => { await gw.close(); await mock.close() })
  t.same((await gw.client.models.list()).data, [])
})

// Issue 9 item 16: discovery used key #1 of a pool; with that key revoked the catalog stayed
// empty and the provider served nothing while key #2 worked.
t.test('discovery takes keys from the pool: a revoked first key is taken out and the next one discovers the catalog', async (t) => {
  const { startMockServer } = await import('../mocks/server.ts')
  const REVOKED = 'revoked-key-0000000000001'
  const GOOD = 'working-key-0000000000002'
  const upstream = await startMockServer((req, res) => {
    const key = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    if (key !== GOOD) {
      res.writeHead(401, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }))
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'pool-model', object: 'model', created: 0, owned_by: 'x' }] }))
  })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'pooled', POOLED_BASE_URL: `${upstream.origin}/v1`, POOLED_API_KEY: `${REVOKED},${GOOD}` })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  t.same((await gw.client.models.list()).data.map((m) => m.id), ['pool-model'], 'the catalog came from the working key')
  const status = await (await fetch(`${gw.url}/providers`)).json() as any
  const keys = status.providers.find((p: any) => p.name === 'pooled').keys
  t.same(keys.map((k: any) => k.state), ['disabled', 'available'], 'the rejected key is out, as after a rejected request')
  t.notOk(JSON.stringify(status).includes(REVOKED) || gw.logs.join('\n').includes(REVOKED), 'the revoked key appears nowhere')
})
