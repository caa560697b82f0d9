// Where the local Ollama is (every form of OLLAMA_HOST users write), the two catalogs,
// aliases in /v1/models, the `live` score in /providers and in routing, and background
// discovery that never blocks start-up.
import t from 'tap'
import { loadConfig, ConfigError } from '../../config.ts'
import { startGateway } from '../helpers/gateway.ts'
import { startOllamaMock } from '../mocks/ollama.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { REMOTE_MODELS, modelIds, ollamaSetup, ollamaStatus } from './ollama-fixture.ts'
import { refusedUrl } from '../mocks/server.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('OLLAMA_HOST / OLLAMA_PORT / OLLAMA_BASE_URL forms', async (t) => {
  const local = (env: Record<string, string>) => loadConfig(env).ollama.localBaseUrl
  t.equal(local({}), 'http://localhost:11434', 'defaults')
  t.equal(local({ OLLAMA_HOST: 'ollama.lan' }), 'http://ollama.lan:11434', 'bare host (g4f form) + default port')
  t.equal(local({ OLLAMA_HOST: 'ollama.lan', OLLAMA_PORT: '8080' }), 'http://ollama.lan:8080', 'bare host + OLLAMA_PORT')
  t.equal(local({ OLLAMA_HOST: 'ollama.lan:11500', OLLAMA_PORT: '8080' }), 'http://ollama.lan:11500', "host:port (Ollama's form) wins over OLLAMA_PORT")
  t.equal(local({ OLLAMA_HOST: '0.0.0.0:11434' }), 'http://127.0.0.1:11434', 'the listen-everywhere address is dialled as loopback')
  t.equal(local({ OLLAMA_HOST: '[::1]:11434' }), 'http://[::1]:11434', 'IPv6 host:port')
  t.equal(local({ OLLAMA_HOST: 'https://ollama.example.com/' }), 'https://ollama.example.com', 'a full URL')
  t.equal(local({ OLLAMA_BASE_URL: 'http://ollama:11434/v1', OLLAMA_HOST: 'ignored' }), 'http://ollama:11434', 'OLLAMA_BASE_URL wins; a /v1 suffix is dropped')
  t.throws(() => loadConfig({ OLLAMA_BASE_URL: 'not a url' }), ConfigError)
  t.throws(() => loadConfig({ OLLAMA_PORT: '99999' }), ConfigError)

  t.equal(loadConfig({}).ollama.remoteBaseUrl, 'https://g4f.space/api/ollama/v1', "the seed's remote backup by default")
  t.equal(loadConfig({ OLLAMA_REMOTE_BASE_URL: '' }).ollama.remoteBaseUrl, undefined, 'empty turns the remote path off')
  const aliases = loadConfig({ OLLAMA_MODEL_ALIASES: 'fast=llama3.2:latest,big=gpt-oss:120b' }).ollama.modelAliases
  t.same(Object.fromEntries(aliases), { 'gpt-oss-120b': 'gpt-oss:120b', 'gpt-oss-20b': 'gpt-oss:20b', fast: 'llama3.2:latest', big: 'gpt-oss:120b' })
})

t.test('the gateway reaches the local server through each form', async (t) => {
  const mock = await startOllamaMock({ models: ['llama3.2:latest'] })
  t.teardown(() => mock.close())
  const port = new URL(mock.origin).port
  const forms: Array<Record<string, string>> = [
    { OLLAMA_HOST: `127.0.0.1:${port}` },
    { OLLAMA_HOST: '127.0.0.1', OLLAMA_PORT: port },
    { OLLAMA_HOST: mock.origin },
    { OLLAMA_BASE_URL: `${mock.origin}/v1` },
  ]
  for (const form of forms) {
    const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_REMOTE_BASE_URL: '', ...form })
    const data = await gw.client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })
    t.equal(data.choices[0].message.content, 'Hello from Ollama', JSON.stringify(form))
    await gw.close()
  }
  t.equal(mock.chatRequests().length, forms.length)
})

t.test('/v1/models: local models, bare names of :latest, remote models, aliases with a target', async (t) => {
  const { gw } = await ollamaSetup(t)
  const ids = await modelIds(gw)
  for (const id of ['llama3.2:latest', 'llama3.2', 'qwen3:8b', 'nomic-embed-text:latest', ...REMOTE_MODELS, 'gpt-oss-120b']) {
    t.ok(ids.includes(id), `${id} listed`)
  }
  t.notOk(ids.includes('gpt-oss-20b'), 'an alias whose target no catalog has is not listed')
  const model = await gw.client.models.retrieve('gpt-oss-120b')
  t.same((model as unknown as { providers: string[] }).providers, ['ollama'])

  const status = await ollamaStatus(gw)
  t.equal(status.live, 2, 'local and remote reachable')
  t.equal(status.details.live, 2)
  t.match(status.details.local, { reachable: true, version: '0.12.6', models: 3, fixedCatalog: false })
  t.match(status.details.remote, { reachable: true, models: 2 })
  t.ok(status.lastRefreshAt)
})

t.test('a missing local server: start-up goes on, live 1, remote models still served', async (t) => {
  const remote = await startOpenAIMock({ models: REMOTE_MODELS })
  const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_BASE_URL: await refusedUrl(), OLLAMA_REMOTE_BASE_URL: remote.baseUrl })
  t.teardown(async () => { await gw.close(); await remote.close() })
  const status = await ollamaStatus(gw)
  t.equal(status.live, 1)
  t.equal(status.details.local.reachable, false)
  const ids = await modelIds(gw)
  t.notOk(ids.includes('llama3.2'), 'no local models listed')
  const data = await gw.client.chat.completions.create({ model: 'gpt-oss:120b', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(data.choices[0].message.content, 'Hello from mock')
})

t.test('nothing reachable: live 0, and a hanging server does not hold start-up past DISCOVERY_TIMEOUT_MS', async (t) => {
  const local = await startOllamaMock()
  local.tagsFault = { fault: 'hang' }
  const gw = await startGateway({
    PROVIDERS_DISABLED: 'gpt4all,pollinations',
    OLLAMA_BASE_URL: local.origin,
    OLLAMA_REMOTE_BASE_URL: await refusedUrl(),
    DISCOVERY_TIMEOUT_MS: '200',
  })
  t.teardown(async () => { await gw.close(); await local.close() })
  const status = await ollamaStatus(gw)
  t.equal(status.live, 0)
  t.match(status.details, { local: { reachable: false }, remote: { reachable: false } })
  t.notOk((await modelIds(gw)).some((id) => id.includes('llama')))
})

t.test('remote path off: live counts the local catalog only; remote-only names are not served', async (t) => {
  const { gw, remote } = await ollamaSetup(t, { OLLAMA_REMOTE_BASE_URL: '' })
  const status = await ollamaStatus(gw)
  t.equal(status.live, 1)
  t.equal(status.details.remote, null)
  t.notOk((await modelIds(gw)).includes('gpt-oss:120b'))
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-oss:120b', messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.status, 404)
  t.equal(remote.requests.length, 0, 'the remote is never contacted')
})

t.test('OLLAMA_MODELS fixes the local catalog', async (t) => {
  const { gw } = await ollamaSetup(t, { OLLAMA_MODELS: 'llama3.2:latest' })
  const ids = await modelIds(gw)
  t.ok(ids.includes('llama3.2:latest'))
  t.notOk(ids.includes('qwen3:8b'), 'discovered models are not added')
  t.ok(ids.includes('gpt-oss:120b'), 'the remote catalog is still discovered')
  t.match((await ollamaStatus(gw)).details.local, { reachable: true, fixedCatalog: true, models: 1 })
})

t.test('catalogs are refreshed in the background', async (t) => {
  const { gw, local } = await ollamaSetup(t, { MODELS_REFRESH_MS: '50' })
  local.models = [...local.models, 'mistral:7b']
  await waitFor(async () => (await modelIds(gw)).includes('mistral:7b'), 'mistral:7b to be discovered')
  const data = await gw.client.chat.completions.create({ model: 'mistral:7b', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(data.model, 'mistral:7b')
  // The server goes away: its models leave the catalog and live drops to 1.
  local.tagsFault = { fault: 'status', status: 500 }
  await waitFor(async () => (await ollamaStatus(gw)).live === 1, 'live score 1')
  t.notOk((await modelIds(gw)).includes('mistral:7b'))
})

t.test('live 0 puts Ollama after a reachable provider of its tier', async (t) => {
  const peer = await startOpenAIMock({ models: ['llama3.2'] })
  peer.fallback = { content: 'Hello from the peer' }
  const gw = await startGateway({
    PROVIDERS_DISABLED: 'gpt4all,pollinations',
    OLLAMA_BASE_URL: await refusedUrl(),
    OLLAMA_REMOTE_BASE_URL: '',
    OLLAMA_MODELS: 'llama3.2',
    CUSTOM_PROVIDERS: 'peer', PEER_BASE_URL: peer.baseUrl, PROVIDER_PRIORITY_PEER: '4',
  })
  t.teardown(async () => { await gw.close(); await peer.close() })
  t.equal((await ollamaStatus(gw)).live, 0)
  // Equals in a tier take turns; a provider with nothing reachable does not get one.
  for (let i = 0; i < 4; i++) {
    const { response } = await gw.client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
    t.equal(response.headers.get('x-tiergate-provider'), 'peer')
    t.equal(response.headers.get('x-tiergate-attempts'), '1')
  }
})
