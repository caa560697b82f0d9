// Catalogs that follow reality (plugins/discovery.ts): a provider unreachable at start is
// rediscovered soon (back-off), a request for a model no catalog has refreshes the catalogs
// on demand (at most once per DISCOVERY_ON_DEMAND_INTERVAL_MS per provider), failed
// discoveries show in /providers with their error, and a 404 says what to do when nothing
// can answer anything.
import t from 'tap'
import { startMockServer, type MockServer } from '../mocks/server.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'
import { nextDiscoveryDelayMs, unreachableParts } from '../../plugins/discovery.ts'

/** An OpenAI-style /models that resets the connection while `control.up` is false. */
async function flakyCatalog(t: any, models: string[]) {
  const control = { up: false, models }
  const server = await startMockServer((_req, res) => {
    if (!control.up) return void res.socket?.destroy()
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ object: 'list', data: control.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'x' })) }))
  })
  t.teardown(() => server.close())
  return { server, control }
}

const modelsRequests = (server: MockServer) => server.requests.filter((r) => r.url === '/v1/models').length
const providerStatus = async (gw: Gateway, name: string) => ((await (await fetch(`${gw.url}/providers`)).json()) as any).providers.find((p: any) => p.name === name)

t.test('the next discovery: the interval while healthy, doubling back-off while not, capped', async (t) => {
  const limits = { refreshMs: 600_000, retryMinMs: 2_000, retryMaxMs: 60_000 }
  const table: Array<[number, number]> = [[0, 600_000], [1, 2_000], [2, 4_000], [3, 8_000], [6, 60_000], [40, 60_000]]
  for (const [failures, ms] of table) t.equal(nextDiscoveryDelayMs(failures, limits), ms, `${failures} failures → ${ms} ms`)
  t.equal(nextDiscoveryDelayMs(3, { ...limits, refreshMs: 5_000 }), 5_000, 'never later than the healthy interval')
})

t.test('parts a refresh could not reach are named', async (t) => {
  t.same(unreachableParts({ live: 1, local: { baseUrl: 'http://localhost:11434', reachable: false }, remote: { reachable: true } }), ['local (http://localhost:11434) unreachable'])
  t.same(unreachableParts({ remote: null }), [])
})

t.test('a provider unreachable at start is rediscovered soon, not after MODELS_REFRESH_MS', async (t) => {
  const { server, control } = await flakyCatalog(t, ['late-model'])
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'late', LATE_BASE_URL: `${server.origin}/v1`, MODELS_REFRESH_MS: '600000', DISCOVERY_RETRY_MIN_MS: '50', DISCOVERY_RETRY_MAX_MS: '200' })
  t.teardown(() => gw.close())
  const down = await providerStatus(gw, 'late')
  t.equal(down.catalogSize, 0)
  t.match(down.discovery, { lastError: String, consecutiveFailures: 1, nextAt: String })
  t.match(down.discovery.lastError, /socket|closed|reset|failed/i, 'the error is shown')
  control.up = true
  await waitFor(async () => (await providerStatus(gw, 'late')).catalogSize === 1, 'the catalog after the provider came up')
  const up = await providerStatus(gw, 'late')
  t.match(up.discovery, { lastError: null, consecutiveFailures: 0 })
  const answer = await gw.client.models.list()
  t.same(answer.data.map((m) => m.id), ['late-model'])
})

t.test('a request for a model no catalog has refreshes on demand, at most once per interval', async (t) => {
  const mock = await startOpenAIMock({ models: ['old'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'cat', CAT_BASE_URL: mock.baseUrl, MODELS_REFRESH_MS: '600000', DISCOVERY_ON_DEMAND_INTERVAL_MS: '600000' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  t.equal(modelsRequests(mock), 1, 'discovered once at start')
  mock.models = ['old', 'pulled-later']
  const answer = await gw.client.chat.completions.create({ model: 'pulled-later', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(answer.choices[0].message.content, 'Hello from mock', 'served at once, without a restart')
  t.equal(modelsRequests(mock), 2, 'one on-demand refresh')
  for (const name of ['nope-1', 'nope-2', 'nope-3']) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: name, messages: [{ role: 'user', content: 'x' }] })
    t.equal(res.status, 404)
  }
  t.equal(modelsRequests(mock), 2, 'a flood of unknown names does not hammer the upstream')
})

t.test('GET /v1/models/{id} for a model no catalog has yet: one on-demand refresh, then found or a 404', async (t) => {
  const mock = await startOpenAIMock({ models: ['old'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'cat', CAT_BASE_URL: mock.baseUrl, MODELS_REFRESH_MS: '600000', DISCOVERY_ON_DEMAND_INTERVAL_MS: '600000' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  mock.models = ['old', 'pulled-later']
  const found = await gw.client.models.retrieve('pulled-later')
  t.match(found, { id: 'pulled-later', object: 'model', owned_by: 'cat' }, 'found without a restart')
  t.equal(modelsRequests(mock), 2, 'one on-demand refresh')
  for (const name of ['nope-1', 'nope-2']) {
    const res = await fetch(`${gw.url}/v1/models/${name}`)
    t.equal(res.status, 404)
    t.equal(((await res.json()) as any).error.code, 'model_not_found')
  }
  t.equal(modelsRequests(mock), 2, 'unknown ids do not hammer the upstream')
})

t.test('when nothing can answer anything, the 404 says what to do', async (t) => {
  const gw = await startGateway({})
  t.teardown(() => gw.close())
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 404)
  t.equal(res.json.error.code, 'model_not_found')
  t.match(res.json.error.message, /Nothing can answer yet: set a provider key .* start Ollama .* LOCAL_MODEL_PATH/)
  const model = await fetch(`${gw.url}/v1/models/gpt-4o-mini`)
  t.equal(model.status, 404)
  t.match(((await model.json()) as any).error.message, /Nothing can answer yet/, 'GET /v1/models/{id} gives the same hint')
  const mock = await startOpenAIMock({ models: ['other'] })
  const served = await startGateway({ CUSTOM_PROVIDERS: 'one', ONE_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await served.close(); await mock.close() })
  const plain = await postJson(`${served.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(plain.status, 404)
  t.notMatch(plain.json.error.message, /Nothing can answer/, 'no hint when something can answer')
})
