// Issue 9 item 14: sessions are bounded whatever the client sends. A new system prompt every
// turn no longer grows a session without bound (the oldest prompts go too, the newest stays),
// repeated identical prompts are stored once, SESSION_MAX_BYTES bounds the bytes, the turn
// being answered is never dropped, and ids up to 200 characters can be read and deleted.
// Run against both stores (memory, and a real redis-server); the trimming rule also as a table,
// through the TypeScript function and through the Redis script, which must agree.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'
import { keptMessages, trimItem, type SessionLimits } from '../../plugins/sessions/store.ts'
import { RedisSessionStore } from '../../plugins/sessions/redis.ts'
import { MemorySessionStore } from '../../plugins/sessions/memory.ts'
import type { ChatMessage } from '../../providers/contract.ts'

const redis = await startRedisServer()
t.teardown(() => redis.close())

const system = (content: string) => ({ role: 'system', content })
const user = (content: string) => ({ role: 'user', content })
const assistant = (content: string) => ({ role: 'assistant', content })

for (const store of ['memory', 'redis'] as const) {
  async function gateway(t: Test, env: Record<string, string> = {}) {
    const mock = await startOpenAIMock({ models: ['m'] })
    let n = 0
    mock.fallback = { content: 'ok' }
    const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm', ...(store === 'redis' ? { REDIS_URL: redis.url } : {}), ...env })
    t.teardown(async () => { await gw.close(); await mock.close() })
    return { gw, mock, next: () => ++n }
  }
  const chat = (gw: Gateway, session: string, messages: unknown[]) => postJson(`${gw.url}/v1/chat/completions`, { model: 'm', session_id: session, messages })
  const stored = async (gw: Gateway, id: string) => {
    const res = await fetch(`${gw.url}/sessions/${encodeURIComponent(id)}`)
    return { status: res.status, messages: res.status === 200 ? (await res.json() as any).messages : undefined }
  }

  t.test(`${store}: a new system prompt every turn stays bounded; the newest prompt and the turn survive`, async (t) => {
    const { gw, mock } = await gateway(t, { SESSION_MAX_MESSAGES: '4' })
    const id = randomUUID()
    for (let turn = 1; turn <= 12; turn++) {
      mock.script({ content: `a${turn}` })
      t.equal((await chat(gw, id, [system(`prompt ${turn}`), user(`u${turn}`)])).status, 200)
    }
    const { messages } = await stored(gw, id)
    t.same(messages, [system('prompt 11'), system('prompt 12'), user('u12'), assistant('a12')], 'the newest prompts and the turn, not only system prompts')
    t.same(mock.chatRequests()[11].body.messages, [system('prompt 10'), system('prompt 11'), user('u11'), assistant('a11'), system('prompt 12'), user('u12')])
  })

  t.test(`${store}: consecutive identical system prompts are stored once`, async (t) => {
    const { gw, mock } = await gateway(t)
    const id = randomUUID()
    const a = system('Answer in French.')
    const b = system('Answer in German.')
    for (const [prompt, q] of [[a, 'u1'], [a, 'u2'], [a, 'u3'], [b, 'u4'], [b, 'u5'], [a, 'u6']] as const) {
      mock.script({ content: `re ${q}` })
      await chat(gw, id, [prompt, user(q)])
    }
    const { messages } = await stored(gw, id)
    t.same(messages.filter((m: any) => m.role === 'system'), [a, b, a], 'a prompt is stored again only when it changed back')
    t.equal(messages.length, 3 + 12)
    t.same(mock.chatRequests()[1].body.messages, [a, user('u1'), assistant('re u1'), user('u2')], 'and not sent twice')
  })

  t.test(`${store}: SESSION_MAX_BYTES bounds the stored bytes; a turn larger than that is still kept whole`, async (t) => {
    const { gw, mock } = await gateway(t, { SESSION_MAX_BYTES: '2048' })
    const id = randomUUID()
    for (let turn = 0; turn < 10; turn++) {
      mock.script({ content: `answer ${turn}` })
      await chat(gw, id, [user(`${turn}:${'q'.repeat(400)}`)])
      const bytes = (await stored(gw, id)).messages.reduce((sum: number, m: unknown) => sum + Buffer.byteLength(JSON.stringify(m)), 0)
      if (bytes > 2048) t.fail(`turn ${turn}: ${bytes} bytes stored`)
    }
    const { messages } = await stored(gw, id)
    t.ok(messages.length < 20, `older turns were dropped (${messages.length} messages kept)`)
    t.same(messages.at(-1), assistant('answer 9'), 'the newest turn is there')
    mock.script({ content: 'big one answered' })
    await chat(gw, id, [user('z'.repeat(5000))])
    t.same((await stored(gw, id)).messages, [user('z'.repeat(5000)), assistant('big one answered')], 'never drop the turn being answered')
  })

  t.test(`${store}: session ids of any allowed length (up to 200 characters) can be read and deleted`, async (t) => {
    const { gw } = await gateway(t)
    for (const length of [1, 100, 101, 150, 200]) {
      const id = 'x'.repeat(length - 1) + 'y'
      t.equal((await chat(gw, id, [user('hi')])).status, 200, `${length}: a turn`)
      t.equal((await stored(gw, id)).status, 200, `${length}: readable`)
      t.equal((await fetch(`${gw.url}/sessions/${id}`, { method: 'DELETE' })).status, 200, `${length}: deletable`)
      t.equal((await stored(gw, id)).status, 404, `${length}: gone`)
    }
    t.equal((await fetch(`${gw.url}/sessions/${'x'.repeat(201)}`)).status, 400, 'over 200: a 400, as in a chat request')
  })
}

// ── the trimming rule as a table: the TS function and the Redis script agree ──
const call = (id: string) => ({ role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'f', arguments: '{}' } }] })
const result = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'r' })

interface Case { name: string; stored: unknown[]; turn: unknown[]; limits: Partial<SessionLimits>; kept: unknown[] }
const CASES: Case[] = [
  { name: 'under the limits: all kept', stored: [system('s'), user('u1'), assistant('a1')], turn: [user('u2'), assistant('a2')], limits: { maxMessages: 5 }, kept: [system('s'), user('u1'), assistant('a1'), user('u2'), assistant('a2')] },
  { name: 'oldest non-instructions first', stored: [system('s'), user('u1'), assistant('a1')], turn: [user('u2'), assistant('a2')], limits: { maxMessages: 3 }, kept: [system('s'), user('u2'), assistant('a2')] },
  { name: 'then older instructions, never the newest', stored: [system('s1'), system('s2'), user('u1'), assistant('a1')], turn: [system('s3'), user('u2'), assistant('a2')], limits: { maxMessages: 4 }, kept: [system('s2'), system('s3'), user('u2'), assistant('a2')] },
  { name: 'developer prompts are instructions', stored: [{ role: 'developer', content: 'd1' }, user('u1'), assistant('a1')], turn: [user('u2'), assistant('a2')], limits: { maxMessages: 2 }, kept: [{ role: 'developer', content: 'd1' }, user('u2'), assistant('a2')] },
  { name: 'the turn is kept even over the limit', stored: [system('s1'), user('u1'), assistant('a1')], turn: [system('s2'), user('u2'), assistant('a2')], limits: { maxMessages: 1 }, kept: [system('s2'), user('u2'), assistant('a2')] },
  { name: 'a tool result in the turn keeps its call', stored: [user('u1'), call('c1')], turn: [result('c1'), assistant('done')], limits: { maxMessages: 2 }, kept: [call('c1'), result('c1'), assistant('done')] },
  { name: 'an orphaned result goes with its call', stored: [user('u1'), call('c1'), result('c1'), assistant('done')], turn: [user('u2'), assistant('a2')], limits: { maxMessages: 3 }, kept: [assistant('done'), user('u2'), assistant('a2')] },
  { name: 'several results of one call stay together', stored: [user('u1'), call('c1')], turn: [result('c1'), result('c1'), assistant('done')], limits: { maxMessages: 3 }, kept: [call('c1'), result('c1'), result('c1'), assistant('done')] },
  { name: 'bytes: the oldest go until the rest fits', stored: [user('x'.repeat(100)), assistant('y'.repeat(100))], turn: [user('u'), assistant('a')], limits: { maxBytes: 200 }, kept: [assistant('y'.repeat(100)), user('u'), assistant('a')] },
]
const BIG: Pick<SessionLimits, 'maxMessages' | 'maxBytes'> = { maxMessages: 1_000, maxBytes: 10_000_000 }

t.test('keptMessages: the rule, table-driven', async (t) => {
  for (const c of CASES) {
    const all = [...c.stored, ...c.turn] as ChatMessage[]
    const kept = keptMessages(all.map((m) => trimItem(m)), c.turn.length, { ...BIG, ...c.limits })
    t.same(all.filter((_, i) => kept[i]), c.kept, c.name)
  }
})

t.test('the Redis script and the memory store apply the same rule', async (t) => {
  const client = new Redis(redis.url)
  t.teardown(() => client.quit())
  const limitsOf = (c: Case): SessionLimits => ({ ttlMs: 60_000, maxCount: 100, ...BIG, ...c.limits })
  for (const c of CASES) {
    const id = randomUUID()
    // Seed without trimming, then append the turn under the case's limits.
    await new RedisSessionStore(client, limitsOf({ ...c, limits: {} })).append(id, 'o', c.stored as ChatMessage[])
    await new RedisSessionStore(client, limitsOf(c)).append(id, 'o', c.turn as ChatMessage[])
    t.same((await new RedisSessionStore(client, limitsOf(c)).get(id))?.messages, c.kept, `redis: ${c.name}`)

    // The memory store's limits are fixed at construction: both appends under the case's
    // limits, where the stored part alone is within them.
    const limited = new MemorySessionStore(limitsOf(c))
    if (keptMessages((c.stored as ChatMessage[]).map((m) => trimItem(m)), c.stored.length, limitsOf(c)).every(Boolean)) {
      await limited.append(id, 'o', c.stored as ChatMessage[])
      await limited.append(id, 'o', c.turn as ChatMessage[])
      t.same((await limited.get(id))?.messages, c.kept, `memory: ${c.name}`)
    }
  }
})

// The rule exists twice — keptMessages in TypeScript, APPEND_LUA in the Redis script — so the
// table above is not enough to keep them equal: 400 generated conversations (seeded: the same ones
// every run; a failure prints the case), each trimmed by both, must come out the same. Checked by
// breaking the script twice (the tool-call protection, the instruction pass order): each fails.
t.test('the Redis script and keptMessages agree on 400 generated conversations', async (t) => {
  const client = new Redis(redis.url)
  t.teardown(() => client.quit())
  let seed = 20261201
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const pick = <T>(options: T[]) => options[Math.floor(random() * options.length)]
  const text = () => 'w'.repeat(1 + Math.floor(random() * 60))
  const message = (i: number): unknown => pick([
    () => system(text()), () => ({ role: 'developer', content: text() }), () => user(text()), () => assistant(text()),
    () => call(`c${i}`), () => result(`c${i - 1}`), () => result(`c${i - 2}`),
  ])()
  let disagreements = 0
  for (let n = 0; n < 400; n++) {
    const caseSeed = seed
    const stored = Array.from({ length: Math.floor(random() * 12) }, (_, i) => message(i))
    const turn = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, i) => message(stored.length + i))
    const limits = { maxMessages: 1 + Math.floor(random() * 10), maxBytes: 60 + Math.floor(random() * 600) }
    const all = [...stored, ...turn] as ChatMessage[]
    const kept = keptMessages(all.map((m) => trimItem(m)), turn.length, limits)
    const viaTs = all.filter((_, i) => kept[i])
    const id = randomUUID()
    // Seeded without trimming, then the turn appended under the case's limits: the script trims.
    await new RedisSessionStore(client, { ttlMs: 60_000, maxCount: 100, ...BIG }).append(id, 'o', stored as ChatMessage[])
    await new RedisSessionStore(client, { ttlMs: 60_000, maxCount: 100, ...limits }).append(id, 'o', turn as ChatMessage[])
    const viaLua = (await new RedisSessionStore(client, { ttlMs: 60_000, maxCount: 100, ...limits }).get(id))?.messages
    if (JSON.stringify(viaLua) !== JSON.stringify(viaTs)) {
      if (disagreements++ < 3) t.same(viaLua, viaTs, `case ${n} (seed ${caseSeed}): ${JSON.stringify({ stored, turn, limits })}`)
    }
  }
  t.equal(disagreements, 0, 'no generated conversation trimmed differently')
})

t.test('both stores: stored history cannot be changed through what was appended or what was read', async (t) => {
  const client = new Redis(redis.url)
  t.teardown(() => client.quit())
  const limits: SessionLimits = { ttlMs: 60_000, maxCount: 100, maxMessages: 50, maxBytes: 1_000_000 }
  for (const store of [new MemorySessionStore(limits), new RedisSessionStore(client, limits)]) {
    const id = randomUUID()
    const turn: ChatMessage[] = [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'answer', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }]
    await store.append(id, 'o', turn)
    ;(turn[0] as { content: string }).content = 'changed after append'
    turn[1].tool_calls![0].function.arguments = '{"changed":true}'
    const read = (await store.get(id))!.messages
    t.equal(read[0].content, 'first', `${store.kind}: appended objects changed afterwards leave the history alone`)
    t.equal(read[1].tool_calls![0].function.arguments, '{}', `${store.kind}: nested fields too`)
    ;(read[0] as { content: string }).content = 'changed after read'
    read.push({ role: 'user', content: 'pushed' })
    const again = (await store.get(id))!.messages
    t.same(again.map((m) => m.content), ['first', 'answer'], `${store.kind}: what a reader changes is its own copy`)
  }
})
