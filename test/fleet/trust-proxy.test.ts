// TRUST_PROXY: behind a load balancer, rate limits key on the client's address (from
// X-Forwarded-For) and not the balancer's; off by default, so a forged header changes nothing.
import t, { type Test } from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { loadConfig, parseTrustProxy } from '../../config.ts'

t.test('parseTrustProxy', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['', false], ['false', false], ['0', false], ['true', true], ['1', 1], ['2', 2],
    ['127.0.0.1', ['127.0.0.1']], ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']], ['::1,fd00::/8', ['::1', 'fd00::/8']], ['loopback', ['loopback']],
  ]
  for (const [value, expected] of cases) t.same(parseTrustProxy(value), expected, JSON.stringify(value))
  t.throws(() => loadConfig({ TRUST_PROXY: 'yes please' }), /TRUST_PROXY/)
  t.equal(loadConfig({}).trustProxy, false, 'off by default')
})

async function budgetsFor(t: Test, trustProxy: string) {
  const mock = await startOpenAIMock()
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, RATE_LIMIT_MAX: '2', TRUST_PROXY: trustProxy })
  t.teardown(async () => { await gw.close(); await mock.close() })
  // Two clients behind one balancer (the balancer is 127.0.0.1), three requests each.
  const statuses: Record<string, number[]> = { '203.0.113.7': [], '198.51.100.9': [] }
  for (let i = 0; i < 3; i++) {
    for (const client of Object.keys(statuses)) {
      const res = await fetch(`${gw.url}/v1/models`, { headers: { 'x-forwarded-for': client } })
      statuses[client].push(res.status)
    }
  }
  return statuses
}

t.test('off: a forged X-Forwarded-For is ignored — everyone behind 127.0.0.1 shares one budget', async (t) => {
  const statuses = await budgetsFor(t, '')
  t.same([...statuses['203.0.113.7'], ...statuses['198.51.100.9']].filter((s) => s === 200).length, 2, 'two requests in all, whatever the header says')
})

for (const setting of ['1', '127.0.0.1', 'true']) {
  t.test(`TRUST_PROXY=${setting}: each client behind the balancer has its own budget`, async (t) => {
    const statuses = await budgetsFor(t, setting)
    t.same(statuses['203.0.113.7'], [200, 200, 429])
    t.same(statuses['198.51.100.9'], [200, 200, 429])
  })
}

t.test('TRUST_PROXY naming another address: the header of an untrusted peer is ignored', async (t) => {
  const statuses = await budgetsFor(t, '10.0.0.0/8')
  t.same([...statuses['203.0.113.7'], ...statuses['198.51.100.9']].filter((s) => s === 200).length, 2)
})
