// The response cache through real HTTP, on one instance (memory store): hits and misses,
// replay as JSON and as SSE with usage, partitions, bypasses, what is never stored, and
// request coalescing (50 identical concurrent requests → one upstream call).
import t, { type Test } from 'tap'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, sseData, type Gateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

const question = { model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'What is 2+2?' }] }

async function start(t: Test, env: Record<string, string> = {}): Promise<{ gw: Gateway; mock: OpenAIMock }> {
  const mock = await startOpenAIMock()
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, CACHE_TTL_MS: '60000', ...env })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return { gw, mock }
}

const chat = (gw: Gateway, body: unknown, headers: Record<string, string> = {}) => postJson(`${gw.url}/v1/chat/completions`, body, headers)
const stream = (gw: Gateway, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ ...body, stream: true }) })

t.test('off by default: no cache header, every request goes upstream', async (t) => {
  const { gw, mock } = await start(t, { CACHE_TTL_MS: '' })
  for (let i = 0; i < 2; i++) t.equal((await chat(gw, question)).headers.get('x-tiergate-cache'), null)
  t.equal(mock.chatRequests().length, 2)
})

t.test('a miss, then hits replayed as JSON and as SSE with usage', async (t) => {
  const { gw, mock } = await start(t)
  mock.fallback = { content: 'Four.' }
  const first = await chat(gw, question)
  t.equal(first.headers.get('x-tiergate-cache'), 'miss')
  const second = await chat(gw, { ...question, user: 'someone-else' })
  t.equal(second.headers.get('x-tiergate-cache'), 'hit', '`user` is not part of the key')
  t.equal(second.headers.get('x-tiergate-provider'), 'upstream', 'says who answered originally')
  t.equal(second.headers.get('x-tiergate-attempts'), '0', 'no upstream attempt')
  t.same(second.json.choices, first.json.choices)
  t.same(second.json.usage, first.json.usage)

  const res = await stream(gw, { ...question, stream_options: { include_usage: true } })
  t.equal(res.headers.get('x-tiergate-cache'), 'hit', 'a JSON answer replays as a stream')
  const frames = await sseData(res)
  t.equal(frames.at(-1), '[DONE]')
  const chunks = frames.slice(0, -1).map((f) => JSON.parse(f))
  t.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Four.')
  t.same(chunks.at(-1).usage, first.json.usage, 'usage chunk last, as include_usage asks')
  t.equal(mock.chatRequests().length, 1, 'one upstream call for three requests')

  // Through the official SDK, as a user would see it.
  const sdk = await gw.client.chat.completions.create({ ...question, messages: [{ role: 'user', content: 'What is 2+2?' }] } as never) as any
  t.equal(sdk.choices[0].message.content, 'Four.')
  t.equal(mock.chatRequests().length, 1)
})

t.test('a streamed answer is stored whole and replayed as JSON; usage is kept even when the client did not ask', async (t) => {
  const { gw, mock } = await start(t)
  mock.fallback = { content: 'Streamed four.', pieces: 4 }
  const res = await stream(gw, question)
  t.equal(res.headers.get('x-tiergate-cache'), 'miss')
  const frames = await sseData(res)
  t.notOk(frames.slice(0, -1).some((f) => JSON.parse(f).choices.length === 0), 'no usage chunk the client did not ask for')
  t.equal(mock.chatRequests()[0].body.stream_options?.include_usage, true, 'asked upstream, to store it')
  const hit = await chat(gw, question)
  t.equal(hit.headers.get('x-tiergate-cache'), 'hit')
  t.equal(hit.json.choices[0].message.content, 'Streamed four.')
  t.equal(hit.json.choices[0].finish_reason, 'stop')
  t.same(hit.json.usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 })
  t.equal(mock.chatRequests().length, 1)
})

t.test('gateway keys partition the cache', async (t) => {
  const { gw, mock } = await start(t, { GATEWAY_API_KEYS: 'tenant-a-key,tenant-b-key' })
  const a = { authorization: 'Bearer tenant-a-key' }
  const b = { authorization: 'Bearer tenant-b-key' }
  t.equal((await chat(gw, question, a)).headers.get('x-tiergate-cache'), 'miss')
  t.equal((await chat(gw, question, b)).headers.get('x-tiergate-cache'), 'miss', 'tenant b never reads tenant a\'s answer')
  t.equal((await chat(gw, question, a)).headers.get('x-tiergate-cache'), 'hit')
  t.equal(mock.chatRequests().length, 2)
})

t.test('bypass: client directives, sampling, and what is never stored', async (t) => {
  const { gw, mock } = await start(t)
  await chat(gw, question)
  t.equal((await chat(gw, question, { 'cache-control': 'no-cache' })).headers.get('x-tiergate-cache'), 'bypass')
  t.equal((await chat(gw, question, { 'x-tiergate-cache': 'bypass' })).headers.get('x-tiergate-cache'), 'bypass')
  t.equal(mock.chatRequests().length, 3, 'bypassed requests went upstream')
  const warm = { ...question, temperature: 0.8 }
  await chat(gw, warm)
  t.equal((await chat(gw, warm)).headers.get('x-tiergate-cache'), 'bypass', 'temperature > 0 is a sample, not cached')

})

t.test('never stored: a cut stream, an error, a truncated stream', async (t) => {
  // Breakers stay closed, so that each failure below is the upstream's, not a refusal.
  const { gw, mock } = await start(t, { BREAKER_VOLUME_THRESHOLD: '1000' })
  // A cut stream (resumed, and the resumption cut too), an upstream error and a truncated
  // answer are never stored. (A cut stream that the router resumes to a clean end is complete.)
  const cut = { ...question, messages: [{ role: 'user', content: 'cut' }] }
  mock.fallback = { content: 'a long answer that breaks', pieces: 5, cutAfter: 3 }
  const text = await (await stream(gw, cut)).text()
  t.notMatch(text, /\[DONE\]/, 'the cut stream ended without [DONE]')
  mock.fallback = { content: 'Hello from mock' }
  const after = await chat(gw, cut)
  t.equal(after.status, 200)
  t.equal(after.headers.get('x-tiergate-cache'), 'miss', 'the cut stream was not stored')
  const failing = { ...question, messages: [{ role: 'user', content: 'fails' }] }
  mock.script({ fault: 'status', status: 500 })
  t.equal((await chat(gw, failing)).status, 503)
  t.equal((await chat(gw, failing)).headers.get('x-tiergate-cache'), 'miss', 'an error was not stored')
  const truncated = { ...question, messages: [{ role: 'user', content: 'truncated' }] }
  mock.fallback = { content: 'no finish', truncate: true }
  await (await stream(gw, truncated)).text()
  mock.fallback = { content: 'Hello from mock' }
  t.equal((await chat(gw, truncated)).headers.get('x-tiergate-cache'), 'miss', 'a stream without finish_reason was not stored')
})

t.test('CACHE_NONDETERMINISTIC=1 caches sampled answers; CACHE_MAX_ENTRIES evicts; metrics count it', async (t) => {
  const { gw, mock } = await start(t, { CACHE_NONDETERMINISTIC: '1', CACHE_MAX_ENTRIES: '1' })
  const ask = (content: string) => chat(gw, { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] })
  await ask('one')
  t.equal((await ask('one')).headers.get('x-tiergate-cache'), 'hit', 'no temperature: cached when allowed')
  await ask('two') // evicts "one"
  t.equal((await ask('one')).headers.get('x-tiergate-cache'), 'miss', 'evicted by CACHE_MAX_ENTRIES=1')
  t.equal(mock.chatRequests().length, 3)
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /tiergate_cache_requests_total\{result="hit"\} 1/)
  t.match(metrics, /tiergate_cache_requests_total\{result="miss"\} 3/)
  t.match(metrics, /tiergate_cache_evictions_total [12]/)
  t.match(metrics, /tiergate_cache_bytes [1-9]\d*/)
})

t.test('coalescing: 50 concurrent identical requests make exactly one upstream call', async (t) => {
  const { gw, mock } = await start(t)
  mock.script({ fault: 'delay', ms: 300 }, { content: 'Shared answer.' })
  const results = await Promise.all(Array.from({ length: 50 }, () => chat(gw, question)))
  t.equal(mock.chatRequests().length, 1, 'one upstream call')
  t.ok(results.every((r) => r.status === 200 && r.json.choices[0].message.content === 'Shared answer.'), 'all 50 got the answer')
  t.equal(results.filter((r) => r.headers.get('x-tiergate-cache') === 'miss').length >= 1, true)
  // Each of the other 49 either joined the call in flight or (arriving after it, on a slow
  // machine) was a cache hit: none made a call of its own.
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  const count = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? 0)
  t.equal(count(/tiergate_cache_coalesced_total (\d+)/) + count(/tiergate_cache_requests_total\{result="hit"\} (\d+)/), 49)
  t.ok(count(/tiergate_cache_coalesced_total (\d+)/) > 0, 'some joined the call in flight')
})

t.test('coalescing streams: followers get the same chunks as they arrive', async (t) => {
  const { gw, mock } = await start(t)
  mock.fallback = { content: 'one two three four', pieces: 4, gapMs: 40, thinkMs: 150 }
  const results = await Promise.all(Array.from({ length: 50 }, async () => sseData(await stream(gw, question))))
  t.equal(mock.chatRequests().length, 1, 'one upstream call for 50 streams')
  for (const frames of results) {
    t.equal(frames.at(-1), '[DONE]')
    t.equal(frames.slice(0, -1).map((f) => JSON.parse(f).choices[0]?.delta?.content ?? '').join(''), 'one two three four')
  }
})

t.test('the leader fails: each follower falls back on its own', async (t) => {
  const { gw, mock } = await start(t)
  mock.script({ fault: 'delay', ms: 200 }, { fault: 'status', status: 400, body: { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } } })
  const results = await Promise.all(Array.from({ length: 5 }, () => chat(gw, question)))
  t.equal(results.filter((r) => r.status === 400).length, 1, 'the leader gets its own failure')
  t.equal(results.filter((r) => r.status === 200).length, 4, 'the followers each asked again, and were answered')
  t.equal(mock.chatRequests().length, 5)
})

for (const leaving of ['follower', 'leader'] as const) {
  t.test(`the ${leaving}'s client leaving mid-stream does not abort the shared call`, async (t) => {
    const { gw, mock } = await start(t)
    // A long stream, so that the follower joins it mid-way even on a loaded machine.
    mock.fallback = { content: 'slow and steady wins the race', pieces: 10, gapMs: 100, thinkMs: 100 }
    const open = (signal?: AbortSignal) => fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...question, stream: true }), signal })
    const controllers = { leader: new AbortController(), follower: new AbortController() }
    const leader = open(controllers.leader.signal)
    await waitFor(() => mock.chatRequests().length === 1, "the leader's upstream call")
    const follower = open(controllers.follower.signal)
    // Both have their response (headers and first chunk): the follower is reading the shared stream.
    const [leaderRes, followerRes] = await Promise.all([leader, follower])
    t.equal(leaderRes.headers.get('x-tiergate-cache'), 'miss')
    t.equal(followerRes.headers.get('x-tiergate-cache'), 'miss')
    const staying = leaving === 'follower' ? leaderRes : followerRes
    controllers[leaving].abort()
    const frames = await sseData(staying)
    t.equal(frames.at(-1), '[DONE]', 'the one who stayed got the whole answer')
    t.equal(frames.slice(0, -1).map((f) => JSON.parse(f).choices[0]?.delta?.content ?? '').join(''), 'slow and steady wins the race')
    t.equal(mock.chatRequests().length, 1, 'one upstream call')
    t.equal(mock.requests.filter((r) => r.aborted).length, 0, 'the upstream call was never aborted')
    t.equal((await chat(gw, question)).headers.get('x-tiergate-cache'), 'hit', 'and its answer was stored')
  })
}

t.test('everyone leaving aborts the shared call', async (t) => {
  const { gw, mock } = await start(t)
  mock.fallback = { content: 'nobody is listening', pieces: 6, gapMs: 100, thinkMs: 50 }
  const controller = new AbortController()
  const res = await stream(gw, question, {}).then((r) => r) // keep a reference so the body can be cancelled
  controller.abort()
  await res.body?.cancel()
  await waitFor(() => mock.requests.some((r) => r.aborted), 'the upstream call to be aborted')
  t.equal((await chat(gw, question)).headers.get('x-tiergate-cache'), 'miss', 'nothing was stored')
})
