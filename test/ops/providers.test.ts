// GET /providers: what an operator (and the status page) sees of each provider. The shape is
// a contract with the status page: these tests pin the fields it reads.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const UPSTREAM_KEY = 'sk-firstsecret-0123456789abcdef'
const GATEWAY_KEY = 'tg-ops-key-42'

t.test('each provider: tier, catalog, breaker, health, key fingerprints, redacted last error; fallbacks counted', async (t) => {
  const tier1 = await startOpenAIMock({ models: ['gpt-4o-mini', 'gpt-4o'] })
  const tier2 = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'first,second',
    FIRST_BASE_URL: tier1.baseUrl, PROVIDER_PRIORITY_FIRST: '1', FIRST_API_KEY: UPSTREAM_KEY,
    SECOND_BASE_URL: tier2.baseUrl, PROVIDER_PRIORITY_SECOND: '2',
    BREAKER_VOLUME_THRESHOLD: '1', BREAKER_RESET_TIMEOUT_MS: '60000',
    GATEWAY_API_KEYS: GATEWAY_KEY,
  })
  t.teardown(async () => { await gw.close(); await tier1.close(); await tier2.close() })
  const auth = { authorization: `Bearer ${GATEWAY_KEY}` }

  // An upstream that echoes the key in its error (as real ones do in 401/500 bodies).
  tier1.script({ fault: 'status', status: 500, body: { error: { message: `Internal error for key ${UPSTREAM_KEY}`, type: 'server_error', param: null, code: null } } })
  const answered = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, auth)
  t.equal(answered.status, 200)
  t.equal(answered.headers.get('x-tiergate-provider'), 'second')

  t.equal((await fetch(`${gw.url}/providers`)).status, 401, 'needs the gateway key')
  const res = await fetch(`${gw.url}/providers`, { headers: auth })
  t.equal(res.status, 200)
  const text = await res.text()
  t.notMatch(text, UPSTREAM_KEY, 'the upstream key appears nowhere in the status')
  const body = JSON.parse(text)
  t.same(body.providers.map((p: any) => [p.name, p.tier]), [['first', 1], ['second', 2]], 'ordered by tier')
  const [first, second] = body.providers
  t.match(first, {
    enabled: true, catchAll: false, catalogSize: 2,
    breaker: { state: 'open', stats: { fires: 1, failures: 1 } },
    health: { failures: 1, successes: 0, lastError: { message: /HTTP 500.*\[REDACTED\]/ } },
  })
  t.equal(first.keys.length, 1)
  t.match(first.keys[0], { fingerprint: /^[0-9a-f]{12}$/, state: 'available', uses: 1 })
  t.match(second, { catalogSize: 1, breaker: { state: 'closed', stats: { successes: 1 } }, health: { successes: 1, lastError: null } })
  t.match(second.health, { latencyMs: Number, errorRate: Number })
  t.same(second.keys.map((k: any) => k.fingerprint), ['anonymous'], 'a keyless provider has one anonymous slot')
  t.same(body.fallbacks, { total: 1, byTier: { '1->2': 1 } })
  for (const p of body.providers) {
    t.same(Object.keys(p).sort(), ['breaker', 'catalogSize', 'catchAll', 'details', 'discovery', 'enabled', 'health', 'keys', 'lastRefreshAt', 'live', 'name', 'serving', 'tier'], `${p.name}: the fields the status page reads`)
  }

  // The breaker's state is live: the next request skips the open one without calling it.
  const calls = tier1.chatRequests().length
  const again = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, auth)
  t.equal(again.headers.get('x-tiergate-provider'), 'second')
  t.equal(tier1.chatRequests().length, calls, 'an open breaker is not called')
  const after = await (await fetch(`${gw.url}/providers`, { headers: auth })).json() as any
  t.equal(after.providers[0].breaker.state, 'open')
  t.same(after.fallbacks, { total: 2, byTier: { '1->2': 2 } })
})
