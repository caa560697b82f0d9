// Affinity is skipped where a pin cannot change the route (issue 14): a model with a single
// candidate holding at most one key neither looks a pin up nor records one (no canonical JSON,
// no SHA-256 of the messages); with two keys, or two candidates, the pins are kept as before.
// Observed in Redis, where pins are visible as keys.
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'
import { AFFINITY_PREFIX } from '../../plugins/affinity.ts'

async function pinsAfterConversation(t: Test, env: Record<string, string>): Promise<string[]> {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const mock = await startOpenAIMock()
  t.teardown(() => mock.close())
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, RATE_LIMIT_MAX: '0', REDIS_URL: redis.url, ...env })
  t.teardown(() => gw.close())
  const messages: Array<{ role: string; content: string }> = []
  for (let i = 0; i < 2; i++) {
    messages.push({ role: 'user', content: `question ${i}` })
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', session_id: 'conv-1', messages })
    t.equal(res.status, 200)
    messages.push({ role: 'assistant', content: res.json.choices[0].message.content })
  }
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.quit())
  return inspector.keys(`${AFFINITY_PREFIX}*`)
}

t.test('one candidate with no key: no pin is recorded', async (t) => {
  t.same(await pinsAfterConversation(t, {}), [])
})

t.test('one candidate with one key: no pin is recorded', async (t) => {
  t.same(await pinsAfterConversation(t, { UPSTREAM_API_KEY: 'sk-only-key-000000000001' }), [])
})

t.test('one candidate with two keys: the conversation is pinned as before', async (t) => {
  const keys = await pinsAfterConversation(t, { UPSTREAM_API_KEY: 'sk-key-one-00000000001111,sk-key-two-00000000002222' })
  t.ok(keys.some((k) => k.includes(':c:')), 'the session id is pinned')
  t.ok(keys.some((k) => k.includes(':m:')), 'the message prefix is pinned')
})
