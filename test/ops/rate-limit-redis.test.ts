// Two gateway instances on one real redis-server share one rate-limit budget; when Redis goes
// away requests still pass (fail open) while /health/ready says Redis is down.
import t from 'tap'
import { Redis } from 'ioredis'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'

t.test('two instances on one Redis share one budget per client', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  t.teardown(() => mock.close())
  const env = { CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, RATE_LIMIT_MAX: '4', REDIS_URL: redis.url, GATEWAY_API_KEYS: 'shared-key-1,other-key-2' }
  const a = await startGateway(env)
  const b = await startGateway(env)
  const alone = await startGateway({ ...env, REDIS_URL: '' })
  t.teardown(async () => { await a.close(); await b.close(); await alone.close() })
  const key = { authorization: 'Bearer shared-key-1' }

  const remaining: string[] = []
  for (const gw of [a, b, a, b]) {
    const res = await fetch(`${gw.url}/v1/models`, { headers: key })
    t.equal(res.status, 200)
    remaining.push(res.headers.get('x-ratelimit-remaining')!)
  }
  t.same(remaining, ['3', '2', '1', '0'], 'one countdown across both instances')
  for (const gw of [a, b]) {
    const res = await fetch(`${gw.url}/v1/models`, { headers: key })
    t.equal(res.status, 429, 'the budget is spent on every instance')
    t.equal((await res.json() as any).error.code, 'rate_limit_exceeded')
    t.ok(Number(res.headers.get('retry-after')) >= 1)
  }
  t.equal((await fetch(`${b.url}/v1/models`, { headers: { authorization: 'Bearer other-key-2' } })).status, 200, 'another key has its own budget')
  t.equal((await fetch(`${alone.url}/v1/models`, { headers: key })).status, 200, 'an instance without Redis counts on its own')

  // The counters are where an operator would look for them, with the window as their TTL.
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.quit())
  const keys = await inspector.keys('tiergate:rate-limit:*')
  t.equal(keys.length, 2, 'one counter per client key')
  t.ok(keys.every((k) => /^tiergate:rate-limit:key:[0-9a-f]{16}$/.test(k)), 'keyed by the key id, never the key itself')
  const ttl = await inspector.pttl(keys[0])
  t.ok(ttl > 0 && ttl <= 60_000, `expires with the window (${ttl} ms left)`)
})

t.test('Redis down: requests pass unlimited (fail open), readiness reports it, and recovers', async (t) => {
  const redis = await startRedisServer()
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  t.teardown(() => mock.close())
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, RATE_LIMIT_MAX: '100', REDIS_URL: redis.url })
  t.teardown(() => gw.close())
  t.equal((await fetch(`${gw.url}/v1/models`)).headers.get('x-ratelimit-remaining'), '99')
  const ready = await fetch(`${gw.url}/health/ready`)
  t.equal(ready.status, 200)
  t.equal((await ready.json() as any).redis, 'ok')

  await redis.close()
  const res = await fetch(`${gw.url}/v1/models`)
  t.equal(res.status, 200, 'the gateway keeps answering without its rate-limit store')
  const notReady = await fetch(`${gw.url}/health/ready`)
  t.equal(notReady.status, 503)
  t.match(await notReady.json(), { status: 'not_ready', redis: 'down', providers: { serving: ['first'] } })

  const back = await startRedisServer({ port: redis.port })
  t.teardown(() => back.close())
  const deadline = Date.now() + 10_000
  let status = 503
  while (status !== 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    status = (await fetch(`${gw.url}/health/ready`)).status
  }
  t.equal(status, 200, 'ready again once Redis answers')
  t.match((await fetch(`${gw.url}/v1/models`)).headers.get('x-ratelimit-remaining'), /^\d+$/, 'limited again')
})
