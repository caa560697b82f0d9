// Sessions in the in-memory store (no REDIS_URL): the shared behaviour, plus LRU eviction.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { chat, history, sessionBehaviour } from './behaviour.ts'

async function start(t: Test, env: Record<string, string> = {}) {
  const mock = await startOpenAIMock()
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, ...env })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return { mock, first: gw, second: gw }
}

sessionBehaviour(t, start)

t.test('the memory store says so', async (t) => {
  const { first } = await start(t)
  const id = randomUUID()
  await chat(first, { session_id: id, messages: [{ role: 'user', content: 'hi' }] })
  t.equal((await history(first, id)).json.store, 'memory')
})

t.test('SESSION_MAX_COUNT evicts the least recently used session', async (t) => {
  const { first } = await start(t, { SESSION_MAX_COUNT: '2' })
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()]
  const say = (id: string) => chat(first, { session_id: id, messages: [{ role: 'user', content: `in ${id}` }] })
  await say(a)
  await say(b)
  t.equal((await history(first, a)).status, 200, 'reading a makes b the least recently used')
  await say(c)
  t.equal((await history(first, b)).status, 404, 'b was evicted')
  t.equal((await history(first, a)).status, 200)
  t.equal((await history(first, c)).status, 200)
})
