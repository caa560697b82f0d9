// Key pools through the gateway: a 429 cools one key and the next key of the same provider
// answers at once; 401/403 takes a key out; the pool state is visible by fingerprint only.
import t from 'tap'
import { startTiers, chat, providerStatus, MODEL } from './setup.ts'
import { KeyPool, RATE_LIMIT_ESCALATION_MS, fingerprint } from '../../providers/key-pool.ts'
import { retryAfterMs } from '../../providers/retry-after.ts'

const KEY_A = 'sk-pool-test-aaaaaaaaaaaa1111'
const KEY_B = 'sk-pool-test-bbbbbbbbbbbb2222'
const bearerOf = (req: { headers: Record<string, unknown> }) => String(req.headers.authorization)

t.test('a 429 with retry-after cools that key and the next key answers at once on the same provider', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }, { name: 'second', tier: 2 }])
  mocks.first.script({ fault: 'status', status: 429, headers: { 'retry-after': '30' } })
  const res = await chat(gw)
  t.equal(res.status, 200)
  t.equal(res.json.choices[0].message.content, 'Hello from first')
  t.equal(res.headers.get('x-tiergate-provider'), 'first')
  t.equal(res.headers.get('x-tiergate-attempts'), '2')
  t.same(mocks.first.chatRequests().map(bearerOf), [`Bearer ${KEY_A}`, `Bearer ${KEY_B}`])
  t.equal(mocks.second.chatRequests().length, 0, 'the next tier was not needed')

  const status = await providerStatus(gw, 'first')
  const [a, b] = status.keys
  t.equal(a.fingerprint, fingerprint(KEY_A))
  t.match(a.fingerprint, /^[0-9a-f]{12}$/, 'a hash only: no character of the key')
  t.equal(a.state, 'cooling_down')
  t.ok(a.availableInMs > 25_000 && a.availableInMs <= 30_000, `cooling for the upstream's 30 s (${a.availableInMs} ms left)`)
  t.equal(b.state, 'available')
  const raw = await (await fetch(`${gw.url}/providers`)).text()
  t.notMatch(raw, KEY_A, 'no key material in the status')
  t.notMatch(raw, KEY_B)

  // The cooling key is skipped while it cools: the next request goes straight to key B.
  await chat(gw)
  t.equal(bearerOf(mocks.first.chatRequests()[2]), `Bearer ${KEY_B}`)
  t.notMatch(gw.logs.join('\n'), KEY_A, 'no key in any log line')
})

t.test('least recently used key first: two keys take turns', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }])
  for (let i = 0; i < 4; i++) t.equal((await chat(gw)).status, 200)
  t.same(mocks.first.chatRequests().map(bearerOf), [KEY_A, KEY_B, KEY_A, KEY_B].map((k) => `Bearer ${k}`))
})

t.test('without retry-after the cool-down escalates 10 s → 30 s → 60 s → 120 s', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A] }, { name: 'second', tier: 2 }])
  mocks.first.script({ fault: 'status', status: 429 })
  const res = await chat(gw)
  t.equal(res.headers.get('x-tiergate-provider'), 'second', 'the only key cools, the next tier answers')
  const [a] = (await providerStatus(gw, 'first')).keys
  t.equal(a.state, 'cooling_down')
  t.equal(a.strikes, 1)
  t.ok(a.availableInMs > 9_000 && a.availableInMs <= 10_000, `first strike: 10 s (${a.availableInMs} ms left)`)

  // The later steps of the ladder, with the pool's own clock (waiting minutes is not a test).
  const pool = new KeyPool([KEY_A], 3_600_000)
  const applied: number[] = []
  let now = 0
  for (let strike = 0; strike < 5; strike++) {
    const cooldown = pool.rateLimited(KEY_A, MODEL, undefined, now)
    applied.push(cooldown)
    t.equal(pool.acquire(MODEL, { now: now + cooldown - 1 }), undefined, 'still cooling just before the end')
    now += cooldown
    t.ok(pool.acquire(MODEL, { now }), 'free again once the cool-down is over')
  }
  t.same(applied, [10_000, 30_000, 60_000, 120_000, 120_000])
  t.same(RATE_LIMIT_ESCALATION_MS, [10_000, 30_000, 60_000, 120_000])
  pool.succeeded(KEY_A, MODEL)
  t.equal(pool.rateLimited(KEY_A, MODEL, undefined, now), 10_000, 'a success resets the ladder')
  t.equal(pool.rateLimited(KEY_A, MODEL, 2_500, now), 2_500, "the upstream's own delay wins over the ladder")
})

t.test('retry-after-ms and x-ratelimit-reset-* set the cool-down', async (t) => {
  t.equal(retryAfterMs({ 'retry-after-ms': '1500', 'retry-after': '9' }), 1500, 'retry-after-ms first (OpenAI)')
  t.equal(retryAfterMs({ 'retry-after': '7' }), 7000)
  const fromDate = retryAfterMs({ 'retry-after': new Date(Date.now() + 20_000).toUTCString() })
  t.ok(fromDate !== undefined && fromDate > 18_000 && fromDate <= 20_000, 'an HTTP date')
  t.equal(retryAfterMs({ 'x-ratelimit-reset-requests': '1m30s', 'x-ratelimit-reset-tokens': '250ms' }), 90_000, 'the longer reset')
  t.equal(retryAfterMs({}), undefined)

  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }])
  mocks.first.script({ fault: 'status', status: 429, headers: { 'x-ratelimit-reset-requests': '45s' } })
  t.equal((await chat(gw)).status, 200)
  const [a] = (await providerStatus(gw, 'first')).keys
  t.ok(a.availableInMs > 40_000 && a.availableInMs <= 45_000, `x-ratelimit-reset-requests honoured (${a.availableInMs} ms)`)
})

t.test('a 401 takes the key out for KEY_AUTH_COOLDOWN_MS and logs only its fingerprint', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }], { KEY_AUTH_COOLDOWN_MS: '600000' })
  mocks.first.script({ fault: 'status', status: 401, body: { error: { message: `Incorrect API key provided: ${KEY_A}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } })
  const res = await chat(gw)
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'first')
  t.same(mocks.first.chatRequests().map(bearerOf), [`Bearer ${KEY_A}`, `Bearer ${KEY_B}`])

  const [a, b] = (await providerStatus(gw, 'first')).keys
  t.equal(a.state, 'disabled')
  t.ok(a.availableInMs > 590_000, 'out for the configured period')
  t.equal(b.state, 'available')

  const logText = gw.logs.join('\n')
  t.notMatch(logText, KEY_A, 'the key itself is never logged')
  const line = gw.logs.map((l) => JSON.parse(l)).find((l) => /rejected a key/.test(l.msg))
  t.ok(line, 'the key rejection is logged')
  t.equal(line.key, fingerprint(KEY_A), 'by its fingerprint')
  t.equal(line.level, 50, 'as an error: an operator must replace it')

  for (let i = 0; i < 3; i++) await chat(gw)
  t.same(mocks.first.chatRequests().slice(2).map(bearerOf), Array(3).fill(`Bearer ${KEY_B}`), 'the rejected key is not used again')
})

t.test('a 403 on the only key of a provider: the next tier answers, and the provider is skipped after', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A] }, { name: 'second', tier: 2 }])
  mocks.first.script({ fault: 'status', status: 403 })
  t.equal((await chat(gw)).headers.get('x-tiergate-provider'), 'second')
  const again = await chat(gw)
  t.equal(again.headers.get('x-tiergate-provider'), 'second')
  t.equal(again.headers.get('x-tiergate-attempts'), '1', 'a provider without a usable key costs no attempt')
  t.equal(mocks.first.chatRequests().length, 1)
})

t.test('every key cooling and a healthy next tier: the next tier answers', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }, { name: 'second', tier: 2 }])
  mocks.first.script({ fault: 'status', status: 429, headers: { 'retry-after': '20' } }, { fault: 'status', status: 429, headers: { 'retry-after': '20' } })
  const res = await chat(gw, { stream: true })
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.equal(res.headers.get('x-tiergate-tier'), '2')
  t.equal(res.headers.get('x-tiergate-attempts'), '3')
  t.equal(res.frames.at(-1), '[DONE]')
})

t.test('every key cooling, no other tier, free within MAX_COOLDOWN_WAIT_MS: the gateway waits and answers', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }], { MAX_COOLDOWN_WAIT_MS: '3000' })
  mocks.first.script(
    { fault: 'status', status: 429, headers: { 'retry-after-ms': '300' } },
    { fault: 'status', status: 429, headers: { 'retry-after-ms': '5000' } },
  )
  const res = await chat(gw)
  t.equal(res.status, 200)
  t.equal(res.json.choices[0].message.content, 'Hello from first')
  t.same(mocks.first.chatRequests().map(bearerOf), [KEY_A, KEY_B, KEY_A].map((k) => `Bearer ${k}`), 'key A again, once it was free')
  t.equal(res.headers.get('x-tiergate-attempts'), '3')
})

t.test('every key cooling past MAX_COOLDOWN_WAIT_MS: 429 with Retry-After = when the first key frees', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }], { MAX_COOLDOWN_WAIT_MS: '1000' })
  mocks.first.script(
    { fault: 'status', status: 429, headers: { 'retry-after': '12' } },
    { fault: 'status', status: 429, headers: { 'retry-after': '7' } },
  )
  for (const stream of [false, true]) {
    const res = await chat(gw, { stream })
    t.equal(res.status, 429, `stream=${stream}`)
    t.equal(res.headers.get('retry-after'), '7', 'the earliest key is free in 7 s')
    t.equal(res.json.error.type, 'rate_limit_error')
    t.equal(res.json.error.code, 'all_providers_failed')
    t.match(res.json.error.message, /rate-limited/)
    t.notMatch(res.text, KEY_A)
  }
  t.equal(mocks.first.chatRequests().length, 2, 'the second request asked no upstream: every key was cooling')
})

t.test('every key rejected (401): each rejection names its own key, and later requests get 503, not a rate limit', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys: [KEY_A, KEY_B] }])
  mocks.first.script({ fault: 'status', status: 401 }, { fault: 'status', status: 401 })
  const res = await chat(gw)
  t.equal(res.status, 503)
  t.equal(res.json.error.code, 'all_providers_failed')
  const rejected = gw.logs.map((l) => JSON.parse(l)).filter((l) => /rejected a key/.test(l.msg)).map((l) => l.key)
  t.same(rejected, [fingerprint(KEY_A), fingerprint(KEY_B)])

  const later = await chat(gw)
  t.equal(later.status, 503, 'a provider whose keys were all rejected is unavailable, not rate-limited')
  t.equal(later.headers.get('retry-after'), null)
  t.match(later.json.error.message, /401\/403/)
  t.equal(mocks.first.chatRequests().length, 2)
})

t.test("429s and 401s on single keys do not open the provider's breaker while other keys are free", async (t) => {
  const keys = ['k-aaaa-1111', 'k-bbbb-2222', 'k-cccc-3333', 'k-dddd-4444', 'k-eeee-5555', 'k-ffff-6666', 'k-gggg-7777']
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, keys }], { BREAKER_VOLUME_THRESHOLD: '2' })
  mocks.first.script(
    { fault: 'status', status: 429, headers: { 'retry-after': '60' } }, { content: 'ok' },
    { fault: 'status', status: 401 }, { content: 'ok' },
    { fault: 'status', status: 429, headers: { 'retry-after': '60' } }, { content: 'ok' },
  )
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await chat(gw)).status)
  t.same(statuses, [200, 200, 200, 200, 200], 'every request answered by a free key')
  const status = await providerStatus(gw, 'first')
  t.equal(status.breaker.state, 'closed', 'a key-level fault says nothing about the provider')
  t.same(status.keys.map((k: { state: string }) => k.state).filter((s: string) => s !== 'available').sort(), ['cooling_down', 'cooling_down', 'disabled'])
})

t.test('a keyless provider that answers 401 to everyone still trips its breaker', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { BREAKER_VOLUME_THRESHOLD: '2' })
  mocks.first.fallback = { fault: 'status', status: 401 }
  for (let i = 0; i < 3; i++) t.equal((await chat(gw)).headers.get('x-tiergate-provider'), 'second')
  t.equal((await providerStatus(gw, 'first')).breaker.state, 'open', 'no key to take out: the provider itself is failing')
})

t.test('several providers rate-limited: Retry-After is when the first of them is free', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { MAX_COOLDOWN_WAIT_MS: '0' })
  mocks.first.script({ fault: 'status', status: 429, headers: { 'retry-after': '20' } })
  mocks.second.script({ fault: 'status', status: 429, headers: { 'retry-after-ms': '6500' } })
  const res = await chat(gw)
  t.equal(res.status, 429)
  t.equal(res.headers.get('retry-after'), '7', 'second is free in 6.5 s: retry after 7')
  t.match(res.json.error.message, /first \(tier 1\): HTTP 429.*second \(tier 2\): HTTP 429/)
})

t.test('the only usable provider rate-limited, the other with an open breaker: 429 + Retry-After, not 503', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { BREAKER_VOLUME_THRESHOLD: '2', MAX_COOLDOWN_WAIT_MS: '1000' })
  mocks.first.fallback = { fault: 'status', status: 500 }
  for (let i = 0; i < 2; i++) t.equal((await chat(gw)).headers.get('x-tiergate-provider'), 'second')
  t.equal((await providerStatus(gw, 'first')).breaker.state, 'open')
  mocks.second.script({ fault: 'status', status: 429, headers: { 'retry-after': '9' } })
  const res = await chat(gw)
  t.equal(res.status, 429)
  t.equal(res.headers.get('retry-after'), '9')
  t.match(res.json.error.message, /first \(tier 1\): circuit breaker open/)
})
