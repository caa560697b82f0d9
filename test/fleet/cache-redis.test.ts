// The response cache shared through Redis: three gateway instances on one real redis-server.
// An answer stored by one is a hit on the others; 50 identical concurrent requests spread over
// the three make at most one upstream call per instance (one in all when the lock is taken
// first); Redis gone → requests still answered (from upstream), Redis back → shared again.
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { waitFor } from '../helpers/wait.ts'

const question = { model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'Shared question' }] }

async function fleet(t: Test, redis: RedisServer, env: Record<string, string> = {}): Promise<{ gws: Gateway[]; mock: OpenAIMock }> {
  const mock = await startOpenAIMock()
  const gatewayEnv = { CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, CACHE_TTL_MS: '60000', REDIS_URL: redis.url, ...env }
  const gws = await Promise.all([0, 1, 2].map(() => startGateway(gatewayEnv)))
  t.teardown(async () => {
    for (const gw of gws) await gw.close()
    await mock.close()
  })
  return { gws, mock }
}

const chat = (gw: Gateway, body: unknown = question) => postJson(`${gw.url}/v1/chat/completions`, body)

t.test('an answer stored by one instance is a hit on the others, with its TTL in Redis', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const { gws, mock } = await fleet(t, redis)
  mock.fallback = { content: 'Stored once.' }
  t.equal((await chat(gws[0])).headers.get('x-tiergate-cache'), 'miss')
  for (const gw of gws.slice(1)) {
    const res = await chat(gw)
    t.equal(res.headers.get('x-tiergate-cache'), 'hit')
    t.equal(res.json.choices[0].message.content, 'Stored once.')
  }
  t.equal(mock.chatRequests().length, 1)
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.quit())
  const keys = await inspector.keys('tiergate:cache:*')
  t.equal(keys.length, 1)
  t.match(keys[0], /^tiergate:cache:anonymous:[0-9a-f]{32}$/, 'partition and digest, never request text')
  const ttl = await inspector.pttl(keys[0])
  t.ok(ttl > 0 && ttl <= 60_000, `expires with CACHE_TTL_MS (${ttl} ms left)`)
  t.equal((await inspector.keys('tiergate:cache-lock:*')).length, 0, 'the lock was released')
})

t.test('50 identical concurrent requests over three instances: at most one upstream call per instance', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const { gws, mock } = await fleet(t, redis)
  mock.script({ fault: 'delay', ms: 300 }, { content: 'Fleet answer.' })
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(gws[i % 3])))
  t.ok(results.every((r) => r.status === 200 && r.json.choices[0].message.content !== undefined), 'all 50 answered')
  const calls = mock.chatRequests().length
  t.ok(calls >= 1 && calls <= 3, `${calls} upstream call(s) for 50 requests on 3 instances`)
  t.equal(calls, 1, 'the lock makes it one call for the whole fleet when the answer comes within CACHE_LOCK_WAIT_MS')
  t.ok(results.every((r) => r.json.choices[0].message.content === 'Fleet answer.'), 'everyone got the one answer')
})

t.test('a lock wait that runs out: each instance calls once on its own', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const { gws, mock } = await fleet(t, redis, { CACHE_LOCK_WAIT_MS: '50' })
  mock.fallback = { fault: 'delay', ms: 400 }
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => chat(gws[i % 3])))
  t.ok(results.every((r) => r.status === 200), 'all answered')
  const calls = mock.chatRequests().length
  t.ok(calls >= 1 && calls <= 3, `${calls} upstream calls: never more than one per instance`)
})

t.test('Redis down: cached requests are still answered, within REDIS_TIMEOUT_MS; Redis back: shared again', async (t) => {
  const redis = await startRedisServer()
  const { gws, mock } = await fleet(t, redis)
  await chat(gws[0])
  // The answer is written to Redis after the reply: a kill before that write would keep it in
  // gws[0]'s memory instead (cache/fallback-store.ts), a hit there. Here only Redis holds it.
  const inspector = new Redis(redis.url)
  await waitFor(async () => (await inspector.keys('tiergate:cache:*')).length === 1, 'the answer in Redis')
  inspector.disconnect()
  await redis.close()
  for (const gw of gws) {
    const res = await chat(gw)
    t.equal(res.status, 200, 'answered without the cache')
    t.equal(res.headers.get('x-tiergate-cache'), 'miss')
  }
  t.ok(gws[0].logs.filter((l) => l.includes('response cache: redis unavailable')).length === 1, 'logged once')
  const back = await startRedisServer({ port: redis.port })
  t.teardown(() => back.close())
  let round = 0
  await waitFor(async () => {
    const fresh = { ...question, messages: [{ role: 'user', content: `after the outage ${round++}` }] }
    await chat(gws[1], fresh)
    return (await chat(gws[2], fresh)).headers.get('x-tiergate-cache') === 'hit'
  }, 'sharing to resume', 10_000)
  t.pass('an answer stored by one instance is a hit on another again')
  t.ok(mock.chatRequests().length >= 4)
})

t.test('a stored value that is not a cached answer is a miss that the answer replaces, not a Redis outage', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const mock = await startOpenAIMock()
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, CACHE_TTL_MS: '60000', REDIS_URL: redis.url })
  const inspector = new Redis(redis.url)
  t.teardown(async () => { await inspector.quit(); await gw.close(); await mock.close() })
  mock.fallback = { content: 'Fresh answer.' }
  t.equal((await chat(gw)).headers.get('x-tiergate-cache'), 'miss')
  const [key] = await inspector.keys('tiergate:cache:*')
  for (const corrupt of ['{"completion":{"choi', 'not json at all', '{"something":"else"}', 'null']) {
    await inspector.set(key, corrupt, 'PX', 60_000)
    const calls = mock.chatRequests().length
    const res = await chat(gw)
    t.equal(res.status, 200, `${corrupt}: answered`)
    t.equal(res.headers.get('x-tiergate-cache'), 'miss', `${corrupt}: a miss`)
    t.equal(res.json.choices[0].message.content, 'Fresh answer.')
    t.equal(mock.chatRequests().length, calls + 1, `${corrupt}: asked upstream`)
    await waitFor(async () => (await inspector.get(key))?.includes('Fresh answer.') === true, `${corrupt}: the answer replaced it`)
    t.equal((await chat(gw)).headers.get('x-tiergate-cache'), 'hit', `${corrupt}: and is a hit again`)
  }
  t.notOk(gw.logs.some((line) => line.includes('redis unavailable')), 'no outage was logged')
  t.equal(gw.logs.filter((line) => line.includes('not a cached answer')).length, 4, 'each corrupt entry was logged once')
})
