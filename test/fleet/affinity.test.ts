// Cache-warm routing: the turns of one conversation stay on the provider key that served it
// while that key is healthy, and move at once when it is rate-limited; through the message
// prefix, through session_id, across instances with Redis; AFFINITY_TTL_MS=0 turns it off.
import t, { type Test } from 'tap'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'
import { affinityKeys } from '../../plugins/affinity-key.ts'

const KEYS = ['sk-key-one-00000000001111', 'sk-key-two-00000000002222']
const keyName = (mock: OpenAIMock, i: number) => (String(mock.chatRequests()[i].headers.authorization).endsWith('1111') ? 'one' : 'two')

/** The pool's own rotation: two keys taking turns (which one starts depends on what used the pool before, e.g. discovery). */
const alternates = (keys: string[]) => keys.every((k, i) => k === keys[i % 2]) && keys[0] !== keys[1]

async function start(t: Test, env: Record<string, string> = {}, mock?: OpenAIMock) {
  const upstream = mock ?? await startOpenAIMock()
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: upstream.baseUrl, UPSTREAM_API_KEY: KEYS.join(','), RATE_LIMIT_MAX: '0', ...env })
  t.teardown(async () => { await gw.close(); if (!mock) await upstream.close() })
  return { gw, mock: upstream }
}

/** One conversation's turns, each repeating the history as clients do. */
async function converse(gws: Gateway[], turns: number, topic: string, extra: Record<string, unknown> = {}) {
  const messages: Array<{ role: string; content: string }> = [{ role: 'system', content: 'be brief' }]
  for (let i = 0; i < turns; i++) {
    messages.push({ role: 'user', content: `${topic} question ${i}` })
    const res = await postJson(`${gws[i % gws.length].url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages, ...extra })
    if (res.status !== 200) throw new Error(`turn ${i}: ${res.status} ${res.text}`)
    messages.push({ role: 'assistant', content: res.json.choices[0].message.content })
  }
}

t.test('affinityKeys: turn n+1 looks up what turn n recorded', async (t) => {
  const turn1 = { model: 'm', messages: [{ role: 'system' as const, content: 's' }, { role: 'user' as const, content: 'q1' }] }
  const turn2 = { model: 'm', messages: [...turn1.messages, { role: 'assistant' as const, content: 'a1' }, { role: 'user' as const, content: 'q2' }] }
  const other = { model: 'm', messages: [{ role: 'system' as const, content: 's' }, { role: 'user' as const, content: 'different' }] }
  const k1 = affinityKeys(turn1, 'tenant', undefined)
  const k2 = affinityKeys(turn2, 'tenant', undefined)
  t.ok(k2.lookup.includes(k1.record[0]), 'the next turn finds the previous one')
  t.notOk(affinityKeys(other, 'tenant', undefined).lookup.some((k) => k1.record.includes(k)), 'another conversation does not')
  t.notOk(affinityKeys(turn2, 'other-tenant', undefined).lookup.some((k) => k1.record.includes(k)), 'another gateway key does not')
  t.notOk(affinityKeys({ ...turn2, model: 'n' }, 'tenant', undefined).lookup.includes(k1.record[0]), 'another model does not (prompt caches are per model)')
  const s1 = affinityKeys(turn1, 'tenant', 'session-1')
  t.equal(s1.lookup[0], affinityKeys(other, 'tenant', 'session-1').record[0], 'a conversation id matches whatever the messages')
  t.match(s1.record.join(' '), /^tenant:c:[0-9a-f]{32} tenant:m:[0-9a-f]{32}$/, 'digests only')
})

t.test('without affinity the pool rotates keys; with it a conversation stays on its key', async (t) => {
  const off = await start(t, { AFFINITY_TTL_MS: '0' })
  await converse([off.gw], 4, 'rotating')
  t.ok(alternates([0, 1, 2, 3].map((i) => keyName(off.mock, i))), 'least recently used key first, turn by turn')

  const { gw, mock } = await start(t)
  // Two conversations interleaved: each keeps its own key.
  const a = converse([gw], 5, 'alpha')
  await a
  const aKeys = [0, 1, 2, 3, 4].map((i) => keyName(mock, i))
  t.equal(new Set(aKeys).size, 1, `conversation alpha stayed on key ${aKeys[0]}`)
  await converse([gw], 3, 'beta')
  const bKeys = [5, 6, 7].map((i) => keyName(mock, i))
  t.equal(new Set(bKeys).size, 1, `conversation beta stayed on key ${bKeys[0]}`)
})

t.test('a rate-limited pinned key is left at once, and the conversation stays on the new one', async (t) => {
  const { gw, mock } = await start(t)
  const messages: Array<{ role: string; content: string }> = []
  const turn = async (content: string) => {
    messages.push({ role: 'user', content })
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages })
    t.equal(res.status, 200)
    messages.push({ role: 'assistant', content: res.json.choices[0].message.content })
  }
  await turn('q0')
  await turn('q1')
  const pinned = keyName(mock, 0)
  t.equal(keyName(mock, 1), pinned)
  mock.script({ fault: 'status', status: 429, headers: { 'retry-after': '30' } })
  await turn('q2')
  t.equal(keyName(mock, 2), pinned, 'asked the pinned key first')
  const moved = keyName(mock, 3)
  t.not(moved, pinned, 'then the other key, in the same request')
  await turn('q3')
  await turn('q4')
  t.same([keyName(mock, 4), keyName(mock, 5)], [moved, moved], 'later turns follow the new key')
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  const count = (result: string) => Number(metrics.split('\n').find((l) => l.startsWith(`tiergate_affinity_total{result="${result}"}`))?.split(' ').pop() ?? 0)
  t.same([count('none'), count('followed'), count('moved')], [1, 3, 1], 'tiergate_affinity_total: the first turn had no pin, q2 moved off it, the others followed')
})

t.test('session_id pins a conversation whatever its messages', async (t) => {
  const { gw, mock } = await start(t)
  for (let i = 0; i < 4; i++) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', session_id: 'conv-42', messages: [{ role: 'user', content: `only the new message ${i}` }] })
    t.equal(res.status, 200)
  }
  t.equal(new Set([0, 1, 2, 3].map((i) => keyName(mock, i))).size, 1)
})

t.test('with Redis the pin is shared: turns alternating over two instances stay on one key', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const mock = await startOpenAIMock()
  t.teardown(() => mock.close())
  const a = await start(t, { REDIS_URL: redis.url }, mock)
  const b = await start(t, { REDIS_URL: redis.url }, mock)
  await converse([a.gw, b.gw], 6, 'shared')
  const keys = [0, 1, 2, 3, 4, 5].map((i) => keyName(mock, i))
  t.equal(new Set(keys).size, 1, `every turn on key ${keys[0]}, over both instances`)
})

t.test('identical one-off requests are no conversation: they keep spreading over the pool', async (t) => {
  const { gw, mock } = await start(t)
  for (let i = 0; i < 4; i++) t.equal((await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'the same one-off question' }] })).status, 200)
  t.ok(alternates([0, 1, 2, 3].map((i) => keyName(mock, i))), 'the keys take turns')
})
