// Sessions in Redis (REDIS_URL set): two gateway instances on one real redis-server, the
// second continuing what the first started. The shared behaviour, plus what only Redis does.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'
import { chat, history, sessionBehaviour } from './behaviour.ts'

const redis = await startRedisServer()
t.teardown(() => redis.close())

async function start(t: Test, env: Record<string, string> = {}) {
  const mock = await startOpenAIMock()
  // These tests are about what a session keeps, not about deadlines (test/hardening/edge-redis
  // tests those): a generous REDIS_TIMEOUT_MS, so a loaded machine cannot turn a slow reply into a 503.
  const gatewayEnv = { CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '5000', ...env }
  const first = await startGateway(gatewayEnv)
  const second = await startGateway(gatewayEnv)
  t.teardown(async () => { await first.close(); await second.close(); await mock.close() })
  return { mock, first, second }
}

sessionBehaviour(t, start)

t.test('the Redis store holds the session with a TTL, not the gateway', async (t) => {
  const { first, second } = await start(t, { SESSION_TTL_MS: '60000' })
  const id = randomUUID()
  await chat(first, { session_id: id, messages: [{ role: 'user', content: 'hi' }] })
  await first.close() // the instance that started it is gone
  const stored = await history(second, id)
  t.equal(stored.json.store, 'redis')
  t.equal(stored.json.messages.length, 2)
  const ttls = await Promise.all([`tiergate:session:{${id}}:owner`, `tiergate:session:{${id}}:messages`].map((key) => second.app.redis!.pttl(key)))
  for (const ttl of ttls) t.ok(ttl > 0 && ttl <= 60_000, `PEXPIRE set (${ttl} ms left)`)
})

t.test('turns written at once through both instances are all kept (atomic appends)', async (t) => {
  const { mock, first, second } = await start(t)
  const id = randomUUID()
  mock.fallback = { content: 'ok', gapMs: 5 }
  const turns = Array.from({ length: 12 }, (_, i) => chat(i % 2 ? first : second, { session_id: id, messages: [{ role: 'user', content: `turn ${i}` }] }))
  for (const res of await Promise.all(turns)) t.equal(res.status, 200)
  const messages = (await history(first, id)).json.messages as Array<{ role: string; content: string }>
  t.equal(messages.length, 24)
  // Each turn's question is followed by its own answer, never interleaved with another turn.
  for (let i = 0; i < messages.length; i += 2) {
    t.equal(messages[i].role, 'user')
    t.equal(messages[i + 1].role, 'assistant')
  }
  t.same(new Set(messages.filter((m) => m.role === 'user').map((m) => m.content)).size, 12)
})

t.test('Redis down: a session request is a clear 503, a request without a session still works', async (t) => {
  const down = await startRedisServer()
  const mock = await startOpenAIMock()
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, REDIS_URL: down.url })
  t.teardown(async () => { await gw.close(); await mock.close(); await down.close() })
  await down.close()
  const res = await chat(gw, { session_id: randomUUID(), messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 503)
  t.equal(res.json.error.code, 'session_store_unavailable')
  t.equal(mock.chatRequests().length, 0, 'no upstream call when the history cannot be read')
  const plain = await chat(gw, { messages: [{ role: 'user', content: 'hi' }] })
  t.equal(plain.status, 200)
})
