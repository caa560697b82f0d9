// Cross-instance coalescing with live chunks: instances on one real redis-server, a mock
// upstream streaming slowly. A streamed request on another instance than the lock owner reads
// the owner's chunks as they come (relayed through a Redis Stream), the upstream sees one call,
// and every way the relay can end is honest: the leader failing before it commits (the follower
// calls on its own), failing after (the same error event, no [DONE]), vanishing mid-stream
// (an error event once its lock is gone, never a hang), Redis down (each instance alone).
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import Anthropic from '@anthropic-ai/sdk'
import { fileURLToPath } from 'node:url'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { sseData, startGateway, type Gateway } from '../helpers/gateway.ts'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { startServerProcess } from '../helpers/server-process.ts'
import { waitFor } from '../helpers/wait.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WORDS = Array.from({ length: 20 }, (_, i) => `word${i} `).join('')
/** 20 content chunks, 50 ms apart: about a second of stream. */
const SLOW = { content: WORDS, pieces: 20, gapMs: 50 }
const question = { model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'Relay me' }] }

interface Fleet {
  gws: Gateway[]
  mock: OpenAIMock
  redis: RedisServer
  env: Record<string, string>
}

async function fleet(t: Test, size: number, env: Record<string, string> = {}): Promise<Fleet> {
  const redis = await startRedisServer()
  const mock = await startOpenAIMock()
  const gatewayEnv = { CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, CACHE_TTL_MS: '60000', REDIS_URL: redis.url, ...env }
  const gws = await Promise.all(Array.from({ length: size }, () => startGateway(gatewayEnv)))
  t.teardown(async () => {
    for (const gw of gws) await gw.close()
    await mock.close()
    await redis.close()
  })
  return { gws, mock, redis, env: gatewayEnv }
}

const stream = (url: string, body: Record<string, unknown> = question) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) })

const contentOf = (frames: string[]) => frames.filter((f) => f !== '[DONE]').map((f) => JSON.parse(f).choices?.[0]?.delta?.content ?? '').join('')

const metric = async (gw: Gateway, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? 0)

/** The lock owner's relay has committed (a head entry is in Redis). */
async function relayStarted(redis: RedisServer): Promise<void> {
  const inspector = new Redis(redis.url)
  try {
    await waitFor(async () => {
      const [key] = await inspector.keys('tiergate:flight:*')
      return key !== undefined && (await inspector.xlen(key)) > 0
    }, 'the leader to start relaying', 10_000)
  } finally {
    await inspector.quit()
  }
}

t.test('a streaming follower on another instance reads the leader\'s chunks live: first chunk before the leader\'s end, same content, one upstream call', async (t) => {
  const { gws: [a, b], mock, redis } = await fleet(t, 2)
  mock.fallback = SLOW
  let leaderEnded = false
  const leader = (async () => {
    const s = await a.client.chat.completions.create({ ...question, stream: true } as any) as any
    let text = ''
    for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? ''
    leaderEnded = true
    return text
  })()
  await relayStarted(redis)
  const { data, response } = await b.client.chat.completions.create({ ...question, stream: true } as any).withResponse() as any
  let followerText = ''
  let contentChunks = 0
  const leaderEndedAt: Record<string, boolean> = {}
  for await (const chunk of data) {
    const content = chunk.choices[0]?.delta?.content ?? ''
    if (content) contentChunks++
    if (contentChunks === 1 || contentChunks === 10) leaderEndedAt[contentChunks] ??= leaderEnded
    followerText += content
  }
  t.equal(leaderEndedAt[1], false, 'the follower\'s first content chunk came while the leader\'s stream still ran')
  t.equal(leaderEndedAt[10], false, 'and so did half the answer: chunks as they came, not at the end')
  t.equal(followerText, WORDS, 'the follower got the whole answer')
  t.equal(await leader, WORDS, 'and so did the leader')
  t.equal(mock.chatRequests().length, 1, 'one upstream call for both')
  t.equal(response.headers.get('x-tiergate-provider'), 'upstream', 'the follower says who answered')
  t.equal(await metric(b, 'tiergate_cache_relayed_total'), 1, 'counted as relayed on the follower\'s instance')
  t.equal(await metric(a, 'tiergate_cache_relayed_total'), 0, 'not on the leader\'s')
})

t.test('50 identical concurrent streams over three instances, each longer than CACHE_LOCK_WAIT_MS: one upstream call, everyone the same answer', async (t) => {
  const { gws, mock } = await fleet(t, 3, { CACHE_LOCK_WAIT_MS: '300' })
  mock.fallback = SLOW
  const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const res = await stream(gws[i % 3].url)
    return { status: res.status, frames: await sseData(res) }
  }))
  t.ok(results.every((r) => r.status === 200 && r.frames.at(-1) === '[DONE]'), 'all 50 ended cleanly')
  t.ok(results.every((r) => contentOf(r.frames) === WORDS), 'all 50 got the one answer')
  t.equal(mock.chatRequests().length, 1, 'the lock, refreshed while the leader streams, and the relay: one call for the fleet')
  const relayed = (await Promise.all(gws.map((gw) => metric(gw, 'tiergate_cache_relayed_total')))).reduce((x, y) => x + y, 0)
  t.ok(relayed > 0, `${relayed} of the 50 read another instance's stream live`)
})

t.test('the leader fails before its head: the follower calls on its own', async (t) => {
  const { gws: [a, b], mock } = await fleet(t, 2)
  mock.script({ fault: 'delay', ms: 300 }, { fault: 'status', status: 400, body: { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } } })
  mock.fallback = { content: 'On my own.' }
  const leader = stream(a.url)
  await waitFor(() => mock.chatRequests().length === 1, 'the leader\'s call')
  const follower = await stream(b.url)
  t.equal((await leader).status, 400, 'the leader\'s client got the failure')
  const frames = await sseData(follower)
  t.equal(frames.at(-1), '[DONE]')
  t.equal(contentOf(frames), 'On my own.', 'the follower got an answer of its own')
  t.equal(mock.chatRequests().length, 2)
})

t.test('the leader\'s upstream fails after commit: the follower\'s stream ends with the same error event, no [DONE]', async (t) => {
  const { gws: [a, b], mock, redis } = await fleet(t, 2, { STREAM_RESUME: '0', BREAKER_VOLUME_THRESHOLD: '1000' })
  mock.fallback = { ...SLOW, errorAfter: 8 }
  const leader = stream(a.url).then(sseData)
  await relayStarted(redis)
  const follower = await sseData(await stream(b.url))
  const leaderFrames = await leader
  t.notOk(follower.includes('[DONE]'), 'no clean end for the follower')
  t.notOk(leaderFrames.includes('[DONE]'), 'nor for the leader')
  t.match(JSON.parse(follower.at(-1)!), { error: { type: 'api_error', code: 'upstream_stream_failed' } })
  t.equal(follower.at(-1), leaderFrames.at(-1), 'the very same error event')
  t.equal(contentOf(follower.slice(0, -1)), contentOf(leaderFrames.slice(0, -1)), 'after the same chunks')
  t.equal(mock.chatRequests().length, 1)
})

t.test('the leader\'s instance is killed mid-stream: the follower\'s stream ends with an error event once its lock is gone, never a clean end', async (t) => {
  const { gws: [b], mock, redis, env } = await fleet(t, 1, { CACHE_LOCK_WAIT_MS: '1000' })
  mock.fallback = { content: WORDS, pieces: 20, gapMs: 200 }
  const leaderProcess = await startServerProcess({
    args: ['server.ts'],
    cwd: ROOT,
    env: (port) => ({ PATH: process.env.PATH!, HOST: '127.0.0.1', PORT: String(port), PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0', LOG_LEVEL: 'warn', ...env }),
  })
  t.teardown(() => { leaderProcess.child.kill('SIGKILL') })
  const leader = stream(`http://127.0.0.1:${leaderProcess.port}`).then((res) => res.text()).catch(() => 'cut')
  await relayStarted(redis)
  const follower = await stream(b.url)
  const reader = follower.body!.getReader()
  let text = ''
  const decoder = new TextDecoder()
  const contentFrames = () => text.split('"content":"').length - 1
  while (contentFrames() < 3) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  t.ok(contentFrames() >= 3 && !text.includes('[DONE]'), 'the follower was reading the leader\'s chunks live')
  leaderProcess.child.kill('SIGKILL')
  await leaderProcess.exited
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  await leader
  const frames = text.split('\n\n').map((f) => f.trim()).filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))
  t.notOk(frames.includes('[DONE]'), 'never a clean end')
  const last = JSON.parse(frames.at(-1)!)
  t.match(last, { error: { type: 'api_error', code: 'upstream_stream_failed' } }, 'an error event')
  t.match(last.error.message, /went away before it ended/, 'that says what happened')
  t.equal(mock.chatRequests().length, 1, 'the follower did not call upstream behind its client\'s back')
})

t.test('Redis down: each instance answers streams alone, as before', async (t) => {
  const { gws: [a, b], mock, redis } = await fleet(t, 2)
  await redis.close()
  mock.fallback = { content: 'Alone.', pieces: 3, gapMs: 20 }
  const [x, y] = await Promise.all([stream(a.url).then(sseData), stream(b.url).then(sseData)])
  for (const frames of [x, y]) {
    t.equal(frames.at(-1), '[DONE]')
    t.equal(contentOf(frames), 'Alone.')
  }
  t.equal(mock.chatRequests().length, 2, 'one call per instance')
})

t.test('a follower leaving never aborts the leader; the leader\'s client leaving never cuts a follower still reading elsewhere', async (t) => {
  // A short lock (300 ms): the leader's call outlives it many times, held only by the follower's presence.
  const { gws: [a, b, c], mock, redis } = await fleet(t, 3, { CACHE_LOCK_WAIT_MS: '300' })
  mock.fallback = { content: WORDS, pieces: 20, gapMs: 100 }
  const post = (url: string, signal?: AbortSignal) => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...question, stream: true }), signal })
  const leaderAbort = new AbortController()
  const leader = await post(a.url, leaderAbort.signal)
  await relayStarted(redis)
  // A follower on B reads one chunk and leaves.
  const leaving = new AbortController()
  const early = await post(b.url, leaving.signal)
  await early.body!.getReader().read()
  leaving.abort()
  // A follower on C is reading when the leader's own client leaves.
  const steady = (await post(c.url)).body!.getReader()
  const decoder = new TextDecoder()
  const first = await steady.read()
  let text = decoder.decode(first.value, { stream: true })
  leaderAbort.abort()
  await leader.body?.cancel().catch(() => undefined)
  for (;;) {
    const { value, done } = await steady.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  const frames = text.split('\n\n').map((f) => f.trim()).filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))
  t.equal(frames.at(-1), '[DONE]', 'the follower on C ended cleanly')
  t.equal(contentOf(frames), WORDS, 'with the whole answer')
  t.equal(mock.chatRequests().length, 1, 'one upstream call: nobody leaving aborted it')
})

t.test('a relay past CACHE_MAX_BYTES stops with a marker: the follower ends with an error event saying so, the leader\'s client gets its whole answer', async (t) => {
  const { gws: [a, b], mock, redis } = await fleet(t, 2, { CACHE_MAX_BYTES: '1024' })
  const long = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'x'.repeat(98)}`).join('')
  mock.fallback = { content: long, pieces: 20, gapMs: 150 }
  const leader = stream(a.url).then(sseData)
  await relayStarted(redis)
  const follower = await sseData(await stream(b.url))
  const leaderFrames = await leader
  t.equal(leaderFrames.at(-1), '[DONE]', 'the leader\'s own client: a clean end')
  t.equal(contentOf(leaderFrames), long, 'with the whole answer')
  t.notOk(follower.includes('[DONE]'), 'the follower: no clean end')
  t.match(JSON.parse(follower.at(-1)!).error.message, /CACHE_MAX_BYTES/, 'an error event that says why')
  t.ok(long.startsWith(contentOf(follower.slice(0, -1))), 'after a true beginning of the answer')
  t.equal(mock.chatRequests().length, 1)
})

t.test('what a relay puts in Redis: digests and a random token in its key, scrubbed answer chunks in its entries, never a key', async (t) => {
  const GATEWAY_KEY = 'gw-key-relay-0123456789abcdef'
  const UPSTREAM_KEY = 'sk-upstream-relay-0123456789abcdef'
  const { gws: [a, b], mock, redis } = await fleet(t, 2, { GATEWAY_API_KEYS: GATEWAY_KEY, UPSTREAM_API_KEY: UPSTREAM_KEY })
  mock.fallback = { content: `The key you configured is ${UPSTREAM_KEY}, and that is all. ${WORDS}`, pieces: 20, gapMs: 50 }
  const post = (url: string) => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_KEY}` }, body: JSON.stringify({ ...question, stream: true }) })
  const leader = post(a.url).then(sseData)
  await relayStarted(redis)
  const follower = await sseData(await post(b.url))
  await leader
  t.equal(await metric(b, 'tiergate_cache_relayed_total'), 1, 'the follower was relayed')
  t.notMatch(contentOf(follower), UPSTREAM_KEY, 'the follower\'s client never sees the upstream key')
  t.equal(contentOf(follower), contentOf(await leader), 'and sees what the leader\'s client saw')
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.quit())
  const [streamKey, ...others] = await inspector.keys('tiergate:flight:*')
  t.equal(others.length, 0, 'one relay')
  t.match(streamKey, /^tiergate:flight:[^:]+:[0-9a-f]{32}:[0-9a-f-]{36}$/, 'a partition, a digest and a random token: never request text')
  t.notMatch(streamKey, GATEWAY_KEY)
  const entries = JSON.stringify(await inspector.xrange(streamKey, '-', '+'))
  t.match(entries, /"t","end"/, 'the relay ended')
  t.notMatch(entries, UPSTREAM_KEY, 'no upstream key in its entries: they are the scrubbed answer')
  t.notMatch(entries, GATEWAY_KEY, 'no gateway key')
  const ttl = await inspector.pttl(streamKey)
  t.ok(ttl > 0 && ttl <= 5_000 + 1_000, `it expires a little after CACHE_LOCK_WAIT_MS (${ttl} ms left)`)
})

t.test('another dialect: an Anthropic Messages stream on another instance follows the leader live and ends with message_stop', async (t) => {
  const { gws: [a, b], mock, redis } = await fleet(t, 2)
  mock.fallback = SLOW
  const anthropic = (gw: Gateway) => new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0, timeout: 20_000 })
  const ask = { model: 'gpt-4o-mini', max_tokens: 100, temperature: 0, messages: [{ role: 'user' as const, content: 'Relay me in Anthropic' }] }
  const leader = anthropic(a).messages.stream(ask).finalMessage()
  await relayStarted(redis)
  const events: string[] = []
  const follower = anthropic(b).messages.stream(ask)
  follower.on('streamEvent', (event) => { events.push(event.type) })
  const final = await follower.finalMessage()
  const text = (m: Anthropic.Message) => m.content.map((block) => (block.type === 'text' ? block.text : '')).join('')
  t.equal(text(final), WORDS, 'the whole answer')
  t.equal(text(await leader), WORDS)
  t.equal(events.at(-1), 'message_stop', 'a clean Anthropic end')
  t.ok(events.filter((e) => e === 'content_block_delta').length > 1, 'in many deltas, as they came')
  t.equal(mock.chatRequests().length, 1)
  t.equal(await metric(b, 'tiergate_cache_relayed_total'), 1)
})

t.test('Redis killed mid-relay: the leader\'s client gets its whole answer; the follower\'s stream ends with an error event, never a hang or a clean end', async (t) => {
  const { gws: [a, b], mock, redis } = await fleet(t, 2, { CACHE_LOCK_WAIT_MS: '1000' })
  mock.fallback = { content: WORDS, pieces: 20, gapMs: 100 }
  const leader = stream(a.url).then(sseData)
  await relayStarted(redis)
  const follower = await stream(b.url)
  const reader = follower.body!.getReader()
  const first = await reader.read()
  t.notOk(first.done, 'the follower was reading the relay')
  await redis.close()
  const decoder = new TextDecoder()
  let text = decoder.decode(first.value, { stream: true })
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  const leaderFrames = await leader
  t.equal(leaderFrames.at(-1), '[DONE]', 'the leader\'s client: a clean end')
  t.equal(contentOf(leaderFrames), WORDS)
  const frames = text.split('\n\n').map((f) => f.trim()).filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))
  t.notOk(frames.includes('[DONE]'), 'the follower: no clean end')
  t.match(JSON.parse(frames.at(-1)!), { error: { code: 'upstream_stream_failed' } }, 'an error event')
  t.equal(mock.chatRequests().length, 1)
})

t.test('the leader\'s client leaves and no instance follows: the relayed call is aborted, as a flight whose last participant left', async (t) => {
  const { gws: [a], mock, redis } = await fleet(t, 1, { CACHE_LOCK_WAIT_MS: '300' })
  mock.fallback = { content: WORDS, pieces: 20, gapMs: 100 }
  const leaving = new AbortController()
  const res = await fetch(`${a.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...question, stream: true }), signal: leaving.signal })
  await relayStarted(redis)
  await res.body!.getReader().read()
  leaving.abort()
  const streams = async (outcome: string) => Number(new RegExp(`^tiergate_streams_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)$`, 'm').exec(await (await fetch(`${a.url}/metrics`)).text())?.[1] ?? 0)
  await waitFor(async () => (await streams('aborted')) === 1, 'the upstream stream to be aborted', 10_000)
  t.equal(await streams('complete'), 0, 'it did not run to its end')
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.quit())
  t.equal((await inspector.keys('tiergate:cache:*')).length, 0, 'and nothing was stored')
})
