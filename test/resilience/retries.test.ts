// Same-provider retries (RETRY_SAME_PROVIDER, for single-key providers) and the MAX_ATTEMPTS cap.
import t from 'tap'
import { startTiers, chat, until } from './setup.ts'

// Breakers out of the way: these tests count attempts, not breaker trips.
const FAST_RETRIES = { RETRY_BASE_DELAY_MS: '5', BREAKER_VOLUME_THRESHOLD: '1000' }

t.test('RETRY_SAME_PROVIDER=2 retries a single-key provider before falling back', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: ['k-one-1234'] }, { name: 'second', tier: 2 }], { ...FAST_RETRIES, RETRY_SAME_PROVIDER: '2' })
  mocks.first.script({ fault: 'status', status: 500 }, { fault: 'reset' })
  const res = await chat(gw)
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'first', 'the third try on the same provider answered')
  t.equal(res.headers.get('x-tiergate-attempts'), '3')
  t.equal(mocks.second.chatRequests().length, 0)

  mocks.first.script({ fault: 'status', status: 503 }, { fault: 'status', status: 502 }, { fault: 'status', status: 500 })
  const fellBack = await chat(gw)
  t.equal(fellBack.headers.get('x-tiergate-provider'), 'second', 'after 1 + 2 tries, the next tier')
  t.equal(fellBack.headers.get('x-tiergate-attempts'), '4')
  t.equal(mocks.first.chatRequests().length, 6)
})

t.test('RETRY_SAME_PROVIDER=0 (the default): a fault moves on at once', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }])
  mocks.first.script({ fault: 'status', status: 500 })
  const res = await chat(gw, { stream: true })
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.equal(res.headers.get('x-tiergate-attempts'), '2')
  t.equal(mocks.first.chatRequests().length, 1)
})

t.test('a provider with several keys is not retried on a provider fault: its keys are not the problem', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: ['k-one-1111', 'k-two-2222'] }, { name: 'second', tier: 2 }], { ...FAST_RETRIES, RETRY_SAME_PROVIDER: '2' })
  mocks.first.script({ fault: 'status', status: 500 })
  const res = await chat(gw)
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.equal(mocks.first.chatRequests().length, 1)
})

t.test('client faults are never retried', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { ...FAST_RETRIES, RETRY_SAME_PROVIDER: '3' })
  mocks.first.script({ fault: 'status', status: 422, body: { error: { message: 'bad tool schema', type: 'invalid_request_error', param: 'tools', code: null } } })
  const res = await chat(gw)
  t.equal(res.status, 422)
  t.equal(mocks.first.chatRequests().length, 1)
  t.equal(mocks.second.chatRequests().length, 0)
})

t.test('MAX_ATTEMPTS caps the upstream calls of one request, across providers and retries', async (t) => {
  const specs = ['p1', 'p2', 'p3', 'p4', 'p5'].map((name, i) => ({ name, tier: i + 1 }))
  const { gw, mocks } = await startTiers(t, specs, { ...FAST_RETRIES, MAX_ATTEMPTS: '3', RETRY_SAME_PROVIDER: '1' })
  for (const mock of Object.values(mocks)) mock.fallback = { fault: 'status', status: 500 }
  const res = await chat(gw)
  t.equal(res.status, 503)
  t.equal(res.json.error.code, 'all_providers_failed')
  t.match(res.json.error.message, /stopped after MAX_ATTEMPTS=3/)
  const calls = Object.values(mocks).map((m) => m.chatRequests().length)
  t.same(calls, [2, 1, 0, 0, 0], 'p1 tried and retried once, p2 once, then the cap')

  const stream = await chat(gw, { stream: true })
  t.equal(stream.status, 503)
  t.equal(Object.values(mocks).reduce((n, m) => n + m.chatRequests().length, 0), 6)
})

t.test('the retry back-off is aborted with the client', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }], { RETRY_SAME_PROVIDER: '3', RETRY_BASE_DELAY_MS: '60000' })
  mocks.first.fallback = { fault: 'status', status: 500 }
  const routed: string[] = []
  gw.app.events.on('routed', (e) => routed.push(e.outcome))
  const controller = new AbortController()
  const pending = chat(gw, { signal: controller.signal }).catch((err: Error) => err)
  await until(() => mocks.first.chatRequests().length === 1, 3000, 'the first attempt')
  controller.abort()
  t.ok((await pending) instanceof Error, 'the client gave up')
  await until(() => routed.length === 1, 3000, 'the router to give up the back-off')
  t.same(routed, ['client_error'], 'the router stopped waiting at once instead of sleeping out a minute')
  t.equal(mocks.first.chatRequests().length, 1, 'and never retried for a client that left')
})

t.test('a retry refused by a breaker that just opened is not counted as an upstream attempt', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { RETRY_BASE_DELAY_MS: '5', RETRY_SAME_PROVIDER: '2', BREAKER_VOLUME_THRESHOLD: '2' })
  mocks.first.fallback = { fault: 'status', status: 500 }
  const res = await chat(gw)
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.equal(mocks.first.chatRequests().length, 2, 'the breaker opened after two failures')
  t.equal(res.headers.get('x-tiergate-attempts'), '3', 'two calls to first, one to second')
})
