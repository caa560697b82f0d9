// GET /health/ready: 503 until a provider can serve (a catalog or a catch-all, and a breaker
// that is not open); /health stays 200 throughout (liveness never looks at providers).
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

async function pollStatus(url: string, want: number, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms
  let status = (await fetch(url)).status
  while (status !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25))
    status = (await fetch(url)).status
  }
  return status
}

t.test('no provider at all: not ready, yet alive', async (t) => {
  const gw = await startGateway({})
  t.teardown(() => gw.close())
  const res = await fetch(`${gw.url}/health/ready`)
  t.equal(res.status, 503)
  t.same(await res.json(), { status: 'not_ready', providers: { enabled: 0, serving: [] }, redis: 'not_configured' })
  t.equal((await fetch(`${gw.url}/health`)).status, 200)
})

t.test('an empty catalog is not ready; ready once discovery finds a model', async (t) => {
  const mock = await startOpenAIMock({ models: [] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, MODELS_REFRESH_MS: '50' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const res = await fetch(`${gw.url}/health/ready`)
  t.equal(res.status, 503)
  t.match(await res.json(), { status: 'not_ready', providers: { enabled: 1, serving: [] } })
  mock.models = ['llama3.2']
  t.equal(await pollStatus(`${gw.url}/health/ready`, 200), 200)
  t.same(await (await fetch(`${gw.url}/health/ready`)).json(), { status: 'ready', providers: { enabled: 1, serving: ['first'] }, redis: 'not_configured' })
})

t.test('a catch-all provider can serve without a catalog', async (t) => {
  const mock = await startOpenAIMock({ models: [] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'anything', ANYTHING_BASE_URL: mock.baseUrl, ANYTHING_MODELS: '*' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  t.equal((await fetch(`${gw.url}/health/ready`)).status, 200)
})

t.test('an open breaker is not ready; ready again when it half-opens', async (t) => {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, BREAKER_VOLUME_THRESHOLD: '1', BREAKER_RESET_TIMEOUT_MS: '400' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  t.equal((await fetch(`${gw.url}/health/ready`)).status, 200)
  mock.script({ fault: 'status', status: 502 })
  t.equal((await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })).status, 503)
  const res = await fetch(`${gw.url}/health/ready`)
  t.equal(res.status, 503, 'the only provider has an open breaker')
  t.match(await res.json(), { status: 'not_ready', providers: { enabled: 1, serving: [] } })
  t.equal((await fetch(`${gw.url}/health`)).status, 200, 'still alive')
  t.equal(await pollStatus(`${gw.url}/health/ready`, 200), 200, 'half-open: it may be tried again')
})
