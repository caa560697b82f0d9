// app.providerState (brief "Provider health state"): local changes are published as
// HealthEvents, and a change seen on another instance is applied (later deadline wins) without
// being published again. Plus the breaker policy: what never counts against a breaker.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { ProviderBreakers } from '../../plugins/state/breakers.ts'
import { KeyPool, fingerprint } from '../../providers/key-pool.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import type { HealthEvent } from '../../plugins/state/provider-state.ts'

const KEY = 'sk-state-test-key-9999'

t.test('a 429 and a breaker opening are published; applying a remote change is not re-published', async (t) => {
  const mock = await startOpenAIMock({ models: ['alpha', 'beta'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'wall', WALL_BASE_URL: mock.baseUrl, WALL_MODELS: 'alpha,beta', WALL_API_KEY: KEY, BREAKER_VOLUME_THRESHOLD: '1', MAX_COOLDOWN_WAIT_MS: '0' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const seen: HealthEvent[] = []
  const unsubscribe = gw.app.providerState.subscribe((e) => seen.push(e))

  mock.scriptFor('alpha', { fault: 'status', status: 429, headers: { 'retry-after': '20' } })
  await gw.client.chat.completions.create({ model: 'alpha', messages: [{ role: 'user', content: 'hi' }] }).catch(() => undefined)
  t.match(seen, [{ type: 'cooldown', provider: 'wall', model: 'alpha', key: fingerprint(KEY), reason: 'rate_limited' }])
  const cooldown = seen[0] as Extract<HealthEvent, { type: 'cooldown' }>
  t.ok(cooldown.untilMs > Date.now() + 15_000 && cooldown.untilMs <= Date.now() + 20_000, 'untilMs is an epoch deadline')
  t.notMatch(JSON.stringify(seen), KEY, 'never the key itself')

  mock.scriptFor('beta', { fault: 'status', status: 500 })
  await gw.client.chat.completions.create({ model: 'beta', messages: [{ role: 'user', content: 'hi' }] }).catch(() => undefined)
  t.match(seen.at(-1), { type: 'breaker', provider: 'wall', model: 'beta', state: 'open', untilMs: Number })

  // Another instance saw beta recover and alpha's key free earlier: the later deadline wins.
  const count = seen.length
  gw.app.providerState.apply({ type: 'breaker', provider: 'wall', model: 'beta', state: 'closed' })
  gw.app.providerState.apply({ type: 'cooldown', provider: 'wall', model: 'alpha', key: fingerprint(KEY), untilMs: Date.now() + 1000, reason: 'rate_limited' })
  t.equal(seen.length, count, 'applied changes are not published again')
  const reply = await gw.client.chat.completions.create({ model: 'beta', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(reply.choices[0].message.content, 'Hello from mock', 'beta serves again: the remote close was applied')
  const status = ((await (await fetch(`${gw.url}/providers`)).json()) as any).providers[0]
  t.ok(status.keys[0].models.find((m: any) => m.model === 'alpha').availableInMs > 15_000, 'an earlier remote deadline does not shorten a local cooldown')

  // Another instance opened alpha's breaker: this one skips alpha too, at once.
  gw.app.providerState.apply({ type: 'breaker', provider: 'wall', model: 'alpha', state: 'open', untilMs: Date.now() + 30_000 })
  const calls = mock.chatRequests().length
  await gw.client.chat.completions.create({ model: 'alpha', messages: [{ role: 'user', content: 'hi' }] }).catch(() => undefined)
  t.equal(mock.chatRequests().length, calls, 'alpha is not called')
  unsubscribe()
  // /providers without its countdowns (availableInMs moves between two reads).
  const providersNow = async () => JSON.parse(JSON.stringify(await (await fetch(`${gw.url}/providers`)).json(), (k, v) => (k === 'availableInMs' ? typeof v : v)))
  const before = await providersNow()
  t.doesNotThrow(() => gw.app.providerState.apply({ type: 'cooldown', provider: 'nobody', model: '*', key: 'anonymous', untilMs: Date.now() + 1000, reason: 'auth' }), 'an event for an unknown provider does not throw')
  t.doesNotThrow(() => gw.app.providerState.apply({ type: 'breaker', provider: 'nobody', model: 'alpha', state: 'open', untilMs: Date.now() + 30_000 }))
  t.same(await providersNow(), before, 'and changes nothing: no provider appears, none changes state')
  const served = await gw.client.chat.completions.create({ model: 'beta', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(served.choices[0].message.content, 'Hello from mock', 'the known provider still serves')
})

t.test("a breaker another instance opened half-opens at that instance's deadline, not a full local reset timeout later", async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'wall', WALL_BASE_URL: mock.baseUrl, WALL_MODELS: 'm', BREAKER_RESET_TIMEOUT_MS: '60000' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const hi = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] }
  gw.app.providerState.apply({ type: 'breaker', provider: 'wall', model: 'm', state: 'open', untilMs: Date.now() + 400 })
  const refused = await postJson(`${gw.url}/v1/chat/completions`, hi)
  t.equal(refused.status, 503, 'open: refused without a call')
  t.equal(mock.chatRequests().length, 0)
  await new Promise((resolve) => setTimeout(resolve, 600))
  const trial = await gw.client.chat.completions.create(hi)
  t.equal(trial.choices[0].message.content, 'Hello from mock', 'after the remote deadline: the half-open trial is let through, and closes it')
  t.equal(mock.chatRequests().length, 1)
  gw.app.providerState.apply({ type: 'breaker', provider: 'wall', model: 'm', state: 'open', untilMs: Date.now() - 1000 })
  t.equal((await postJson(`${gw.url}/v1/chat/completions`, hi)).status, 200, 'a deadline already past opens nothing')
  gw.app.providerState.apply({ type: 'breaker', provider: 'wall', model: 'm', state: 'open', untilMs: Date.now() + 400 })
  await postJson(`${gw.url}/v1/chat/completions`, hi)
  const status = ((await (await fetch(`${gw.url}/providers`)).json()) as any).providers[0]
  t.not(status.breaker, 'closed', 'open again for the next remote deadline')
})

t.test('a throwing subscriber is never felt by the request that caused the change', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const second = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'a,b', A_BASE_URL: mock.baseUrl, A_MODELS: 'm', PROVIDER_PRIORITY_A: '1', B_BASE_URL: second.baseUrl, B_MODELS: 'm', PROVIDER_PRIORITY_B: '2' })
  t.teardown(async () => { await gw.close(); await mock.close(); await second.close() })
  gw.app.providerState.subscribe(() => { throw new Error('redis sync exploded') })
  mock.script({ fault: 'status', status: 429 })
  const reply = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(reply.choices[0].message.content, 'Hello from mock')
})

t.test('breaker policy: client faults, local resource errors, 429s and keyed 401s never count', async (t) => {
  const transitions: string[] = []
  const breakers = new ProviderBreakers('p', { timeoutMs: 0, errorThresholdPercentage: 1, resetTimeoutMs: 60_000, volumeThreshold: 1, rollingWindowMs: 10_000 }, true, (e) => transitions.push(`${e.model}:${e.state}`))
  t.teardown(() => breakers.shutdown())
  const neutral = [
    new UpstreamError('client', 'cannot serialize the request body', { status: 400 }), // a failure to build the upstream request
    new UpstreamError('local_resource', 'the gateway is out of local resources (EMFILE)'),
    new UpstreamError('rate_limited', 'HTTP 429', { status: 429 }),
    new UpstreamError('auth', 'HTTP 401', { status: 401 }),
    new UpstreamError('aborted', 'the client closed the request'),
  ]
  for (const err of neutral) await breakers.fire('m', () => Promise.reject(err)).catch(() => undefined)
  t.equal(breakers.stateFor('m'), 'closed', 'nothing counted against the model')
  t.equal(breakers.summary(), 'closed')
  await breakers.fire('m', () => Promise.reject(new UpstreamError('server', 'HTTP 500', { status: 500 }))).catch(() => undefined)
  t.equal(breakers.stateFor('m'), 'open', 'a provider fault does')
  t.equal(breakers.stateFor('other'), 'closed', 'and only for that model')
  t.same(transitions, ['m:open'])
})

t.test('model breakers are bounded in number', async (t) => {
  const { MAX_MODEL_BREAKERS } = await import('../../plugins/state/breakers.ts')
  const breakers = new ProviderBreakers('p', { timeoutMs: 0, errorThresholdPercentage: 50, resetTimeoutMs: 60_000, volumeThreshold: 5, rollingWindowMs: 10_000 }, false, () => undefined)
  t.teardown(() => breakers.shutdown())
  for (let i = 0; i < MAX_MODEL_BREAKERS + 50; i++) breakers.forModel(`model-${i}`)
  t.equal(breakers.snapshot().length, MAX_MODEL_BREAKERS)
})

t.test('the model breaker evicted is the least recently used closed one', async (t) => {
  const { MAX_MODEL_BREAKERS } = await import('../../plugins/state/breakers.ts')
  const breakers = new ProviderBreakers('p', { timeoutMs: 0, errorThresholdPercentage: 50, resetTimeoutMs: 60_000, volumeThreshold: 5, rollingWindowMs: 10_000 }, false, () => undefined)
  t.teardown(() => breakers.shutdown())
  for (let i = 0; i < MAX_MODEL_BREAKERS; i++) breakers.forModel(`model-${i}`)
  breakers.apply('model-0', 'open') // the oldest, but open: kept (its state is what keeps traffic off)
  breakers.forModel('model-1') // the next oldest, used again: now the most recent
  const models = () => breakers.snapshot().map((s) => s.model)
  breakers.forModel('new-a')
  t.notOk(models().includes('model-2'), 'the least recently used closed one went')
  t.ok(models().includes('model-0'), 'the open one stayed')
  t.ok(models().includes('model-1'), 'the one used again stayed')
  breakers.forModel('new-b')
  t.notOk(models().includes('model-3'), 'then the next least recently used')
  t.equal(breakers.stateFor('model-0'), 'open')
  t.equal(breakers.snapshot().length, MAX_MODEL_BREAKERS)
})

t.test('key pool: cooldowns per key and model, 401 for every model, a bounded map', async (t) => {
  const pool = new KeyPool(['k-one-1111', 'k-two-2222'], 3_600_000)
  const now = 1_000_000
  pool.rateLimited('k-one-1111', 'alpha', 30_000, now)
  t.equal(pool.acquire('alpha', { now })?.key, 'k-two-2222', 'alpha: the other key')
  t.equal(pool.acquire('beta', { now: now + 1 })?.key, 'k-one-1111', 'beta: the rate-limited key still serves (least recently used)')
  pool.authFailed('k-two-2222', now)
  t.equal(pool.acquire('alpha', { now: now + 2 }), undefined, 'alpha: one key cooling, one rejected')
  t.match(pool.unavailable('alpha', now + 2), { reason: 'rate_limited', freeAt: now + 30_000 })
  t.equal(pool.acquire('beta', { now: now + 3 })?.key, 'k-one-1111', 'beta: the rejected key is out for every model')
  t.equal(pool.acquire('beta', { prefer: fingerprint('k-one-1111'), now: now + 4 })?.key, 'k-one-1111', 'prefer: affinity\'s key first')
  t.equal(pool.rateLimited('k-one-1111', 'gamma', 0, now), 1000, 'a retry-after of 0 still cools for the floor')
  t.equal(pool.acquireForDiscovery(now)?.key, 'k-one-1111', 'discovery: a key not rejected, model cool-downs aside')
  pool.authFailed('k-one-1111', now)
  t.equal(pool.acquireForDiscovery(now), undefined, 'every key rejected: nothing to discover with')
})

t.test('a remote open with a deadline that is not a finite number keeps the local reset timeout', async (t) => {
  const breakers = new ProviderBreakers('p', { timeoutMs: 0, errorThresholdPercentage: 50, resetTimeoutMs: 60_000, volumeThreshold: 5, rollingWindowMs: 10_000 }, false, () => undefined)
  t.teardown(() => breakers.shutdown())
  breakers.apply('m', 'open', Number.NaN)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(breakers.stateFor('m'), 'open', 'NaN did not arm a timer that half-opens at once')
  breakers.apply('n', 'open', Date.now() + 30)
  await new Promise((resolve) => setTimeout(resolve, 80))
  t.equal(breakers.stateFor('n'), 'half_open', 'a finite deadline is honoured')
})
