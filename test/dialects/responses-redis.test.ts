// Stored responses in Redis (REDIS_URL set): two gateway instances on one real redis-server —
// a chain started on one continues on the other, ownership holds across instances, and the
// TTL (RESPONSES_TTL_MS) is Redis's own.
import t from 'tap'
import OpenAI from 'openai'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'

const redis = await startRedisServer()
t.teardown(() => redis.close())

const MODEL = 'gpt-4o-mini'
const statusOf = (call: Promise<unknown>) => call.then(() => undefined, (err: { status?: number }) => err.status)

t.test('any instance continues any chain; another key gets 404 on every instance; PEXPIRE is set', async (t) => {
  const mock = await startOpenAIMock({ models: [MODEL] })
  const env = { CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, REDIS_URL: redis.url, GATEWAY_API_KEYS: 'key-one-1,key-two-2', RESPONSES_TTL_MS: '60000' }
  const first = await startGateway(env, { apiKey: 'key-one-1' })
  const second = await startGateway(env, { apiKey: 'key-one-1' })
  t.teardown(async () => { await first.close(); await second.close(); await mock.close() })
  t.equal(first.app.responsesStore.kind, 'redis')

  const started = await first.client.responses.create({ model: MODEL, input: 'Remember: blue.' })
  await first.close() // the instance that stored it is gone
  mock.script({ content: 'Blue.' })
  const continued = await second.client.responses.stream({ model: MODEL, input: 'Which colour?', previous_response_id: started.id }).finalResponse()
  t.equal(continued.output_text, 'Blue.')
  t.same(mock.chatRequests()[1].body.messages.map((m: { content: string }) => m.content), ['Remember: blue.', 'Hello from mock', 'Which colour?'])

  const ttl = await second.app.redis!.pttl(`tiergate:response:${continued.id}`)
  t.ok(ttl > 0 && ttl <= 60_000, `PEXPIRE set (${ttl} ms left)`)

  const store = second.app.responsesStore
  const held = (await store.get(continued.id))!
  t.notOk(await store.put({ ...held, owner: 'someone-else' }), 'another owner cannot overwrite it (atomic owner check)')
  t.equal((await store.get(continued.id))!.owner, held.owner)

  const stranger = new OpenAI({ baseURL: `${second.url}/v1`, apiKey: 'key-two-2', maxRetries: 0 })
  t.equal(await statusOf(stranger.responses.retrieve(continued.id)), 404)
  t.equal(await statusOf(stranger.responses.delete(continued.id)), 404)
  t.equal((await second.client.responses.retrieve(continued.id)).output_text, 'Blue.', 'still there for its owner')
  await second.client.responses.delete(continued.id)
  t.equal(await statusOf(second.client.responses.retrieve(continued.id)), 404)
  t.equal(await second.app.redis!.exists(`tiergate:response:${continued.id}`), 0, 'gone from Redis')
})

t.test('Redis down: previous_response_id is a 503 that says what to do; a new chain still answers', async (t) => {
  const mock = await startOpenAIMock({ models: [MODEL] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, REDIS_URL: 'redis://127.0.0.1:9' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const err = await gw.client.responses.create({ model: MODEL, input: 'x', previous_response_id: 'resp_any' }).catch((e) => e)
  t.equal(err.status, 503)
  t.equal(err.code, 'responses_store_unavailable')
  const fresh = await gw.client.responses.create({ model: MODEL, input: 'hello' })
  t.equal(fresh.output_text, 'Hello from mock', 'a failed store write never costs the answer')
})

t.test('Redis: one response larger than RESPONSES_MAX_BYTES is not kept (as in memory)', async (t) => {
  const mock = await startOpenAIMock({ models: [MODEL] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, REDIS_URL: redis.url, RESPONSES_MAX_BYTES: '4096' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const small = await gw.client.responses.create({ model: MODEL, input: 'hi' })
  t.ok(await gw.app.redis!.exists(`tiergate:response:${small.id}`), 'a small one is stored')
  const big = await gw.client.responses.create({ model: MODEL, input: 'x'.repeat(8192) })
  t.equal(big.output_text, 'Hello from mock', 'the answer is still given')
  t.equal(await gw.app.redis!.exists(`tiergate:response:${big.id}`), 0, 'the oversized one is not in Redis')
})
