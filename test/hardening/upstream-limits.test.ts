// Issue 9 item 6: every upstream read is capped — one SSE event, one JSON body, one NDJSON
// line. Over the cap the attempt is a provider fault (malformed: the next provider answers)
// and the hostile upstream sees its socket closed long before it has sent its payload; the
// gateway's memory stays bounded. (Before the caps a 6 GB newline-free stream killed the
// process, and a 1 GB JSON body peaked at 3.2 GB RSS.)
import t, { type Test } from 'tap'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startHostileMock, type HostileBody } from '../mocks/hostile.ts'
import { waitFor } from '../helpers/wait.ts'

const MiB = 1024 * 1024
const LOW_CAPS = { UPSTREAM_MAX_EVENT_BYTES: String(64 * 1024), UPSTREAM_MAX_BODY_BYTES: String(1 * MiB) }

/** The highest RSS seen while `run` runs (sampled every 5 ms), minus the RSS before. */
async function peakRssGrowth<T>(run: () => Promise<T>): Promise<{ value: T; growthBytes: number }> {
  const before = process.memoryUsage().rss
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 5)
  try {
    const value = await run()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { value, growthBytes: peak - before }
  } finally {
    clearInterval(sampler)
  }
}

async function setup(t: Test, body: HostileBody, env: Record<string, string> = {}) {
  const hostile = await startHostileMock(body)
  const backup = await startOpenAIMock({ models: ['m'] })
  backup.fallback = { content: 'from backup' }
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'hostile,backup',
    HOSTILE_BASE_URL: hostile.baseUrl, HOSTILE_MODELS: 'm', PROVIDER_PRIORITY_HOSTILE: '1',
    BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'm', PROVIDER_PRIORITY_BACKUP: '2',
    ...LOW_CAPS,
    ...env,
  })
  t.teardown(async () => {
    await gw.close()
    await hostile.close()
    await backup.close()
  })
  return { hostile, backup, gw }
}

t.test('a 64 MiB newline-free SSE stream: cut at the event cap, the next provider answers', async (t) => {
  const { hostile, gw } = await setup(t, { kind: 'sse-no-newline', bytes: 64 * MiB })
  const { value: res, growthBytes } = await peakRssGrowth(async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
    return { status: res.status, provider: res.headers.get('x-tiergate-provider'), text: await res.text() }
  })
  t.equal(res.status, 200)
  t.equal(res.provider, 'backup', 'the oversized event was a provider fault: fell through invisibly')
  const content = res.text.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)).choices[0]?.delta?.content ?? '').join('')
  t.equal(content, 'from backup')
  t.match(res.text, /data: \[DONE\]/)
  await waitFor(() => hostile.pumped.length === 1, 'the hostile pump to stop')
  t.ok(hostile.pumped[0].closedEarly, 'the gateway closed the hostile socket')
  t.ok(hostile.pumped[0].written < 16 * MiB, `the hostile upstream got out only ${(hostile.pumped[0].written / MiB).toFixed(1)} MiB of 64`)
  t.ok(growthBytes < 48 * MiB, `peak RSS growth ${(growthBytes / MiB).toFixed(1)} MiB`)
  const attempt = gw.logs.find((l) => l.includes('UPSTREAM_MAX_EVENT_BYTES'))
  t.ok(attempt, 'the log names the cap that was hit')
})

t.test('a 256 MiB JSON body (chunked, no length): read incrementally and cut at the body cap', async (t) => {
  const { hostile, gw } = await setup(t, { kind: 'json-huge', bytes: 256 * MiB })
  const { value: res, growthBytes } = await peakRssGrowth(() => postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }))
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  t.equal(res.json.choices[0].message.content, 'from backup')
  await waitFor(() => hostile.pumped.length === 1, 'the hostile pump to stop')
  t.ok(hostile.pumped[0].closedEarly, 'the gateway closed the hostile socket')
  t.ok(hostile.pumped[0].written < 32 * MiB, `the hostile upstream got out only ${(hostile.pumped[0].written / MiB).toFixed(1)} MiB of 256`)
  t.ok(growthBytes < 64 * MiB, `peak RSS growth ${(growthBytes / MiB).toFixed(1)} MiB`)
})

t.test('a JSON body whose Content-Length is over the cap is refused before it is read', async (t) => {
  const { hostile, gw } = await setup(t, { kind: 'json-huge', bytes: 256 * MiB, declareLength: true })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  await waitFor(() => hostile.pumped.length === 1, 'the hostile pump to stop')
  t.ok(hostile.pumped[0].written < 32 * MiB, `${(hostile.pumped[0].written / MiB).toFixed(1)} MiB written`)
})

t.test('a newline-free NDJSON line from Ollama: cut at the event cap', async (t) => {
  const hostile = await startHostileMock({ kind: 'ndjson-no-newline', bytes: 64 * MiB })
  const gw = await startGateway({
    PROVIDERS_DISABLED: 'gpt4all,pollinations',
    OLLAMA_BASE_URL: hostile.origin, OLLAMA_MODELS: 'm', OLLAMA_REMOTE_BASE_URL: '',
    ...LOW_CAPS,
  })
  t.teardown(async () => {
    await gw.close()
    await hostile.close()
  })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  const body = await res.json() as { error: { code: string; message: string } }
  t.equal(res.status, 503, 'the only provider failed before the first chunk')
  t.match(body.error.message, /NDJSON line .*UPSTREAM_MAX_EVENT_BYTES/)
  await waitFor(() => hostile.pumped.length === 1, 'the hostile pump to stop')
  t.ok(hostile.pumped[0].closedEarly, 'the gateway closed the hostile socket')
  t.ok(hostile.pumped[0].written < 16 * MiB, `${(hostile.pumped[0].written / MiB).toFixed(1)} MiB written`)
})

t.test('normal answers under the caps are untouched (default caps)', async (t) => {
  const backup = await startOpenAIMock({ models: ['m'] })
  backup.fallback = { content: 'x'.repeat(200_000) }
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'm' })
  t.teardown(async () => { await gw.close(); await backup.close() })
  const json = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(json.choices[0].message.content?.length, 200_000)
  let streamed = ''
  for await (const chunk of await gw.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })) {
    streamed += chunk.choices[0]?.delta?.content ?? ''
  }
  t.equal(streamed.length, 200_000)
})

t.test('Anthropic native passthrough (/v1/messages): the JSON body is capped too', async (t) => {
  const hostile = await startHostileMock({ kind: 'json-huge', bytes: 256 * MiB })
  const gw = await startGateway({ ANTHROPIC_API_KEY: 'sk-ant-test-1', ANTHROPIC_BASE_URL: hostile.origin, ANTHROPIC_MODELS: 'm', ...LOW_CAPS })
  t.teardown(async () => { await gw.close(); await hostile.close() })
  const res = await postJson(`${gw.url}/v1/messages`, { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }, { 'anthropic-version': '2023-06-01' })
  t.not(res.status, 200, 'the oversized answer is not served')
  t.equal(res.json?.type, 'error', 'in the Anthropic envelope')
  t.match(res.json?.error?.message, /UPSTREAM_MAX_BODY_BYTES/)
  await waitFor(() => hostile.pumped.length === 1, 'the hostile pump to stop')
  t.ok(hostile.pumped[0].closedEarly, 'the gateway closed the hostile socket')
  t.ok(hostile.pumped[0].written < 32 * MiB, `${(hostile.pumped[0].written / MiB).toFixed(1)} MiB written`)
})

// A stream of well-formed events, each far under UPSTREAM_MAX_EVENT_BYTES, that never ends:
// before UPSTREAM_MAX_STREAM_BYTES, everything that keeps a streamed answer (the resumable
// answer's text, a held tool call, the cache's and the session's copies) grew with it until the
// total timeout (10 minutes by default) or the heap ran out.
const STREAM_CAP = { UPSTREAM_MAX_STREAM_BYTES: String(1 * MiB) }

/** Reads a streamed answer to its end, keeping only its length and its last bytes. */
async function drain(res: Response): Promise<{ bytes: number; tail: string }> {
  let bytes = 0
  let tail = ''
  const decoder = new TextDecoder()
  const reader = res.body!.getReader()
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    bytes += read.value.length
    tail = (tail + decoder.decode(read.value, { stream: true })).slice(-4096)
  }
  return { bytes, tail }
}

t.test('an endless SSE stream of well-formed events: cut at the stream cap, the socket closed, memory bounded', async (t) => {
  const { hostile, gw } = await setup(t, { kind: 'sse-endless', bytes: 512 * MiB }, STREAM_CAP)
  const { value: got, growthBytes } = await peakRssGrowth(async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
    return { status: res.status, provider: res.headers.get('x-tiergate-provider'), ...(await drain(res)) }
  })
  t.equal(got.status, 200, 'the stream had committed: its first chunks went out')
  t.equal(got.provider, 'hostile')
  await waitFor(() => hostile.pumped.length === 1, 'the hostile pump to stop')
  t.ok(hostile.pumped[0].closedEarly, 'the gateway closed the hostile socket')
  t.ok(hostile.pumped[0].written < 16 * MiB, `the hostile upstream got out only ${(hostile.pumped[0].written / MiB).toFixed(1)} MiB of 512`)
  t.ok(got.bytes < 16 * MiB, `the client received ${(got.bytes / MiB).toFixed(1)} MiB`)
  const [, resumed = ''] = got.tail.split(/: tiergate: resumed on backup[^\n]*UPSTREAM_MAX_STREAM_BYTES[^\n]*\n\n/)
  const continuation = resumed.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)).choices[0]?.delta?.content ?? '').join('')
  t.equal(continuation, 'from backup', 'the next provider finished the answer (mid-stream resume), the cap named in its note')
  t.match(got.tail, /data: \[DONE\]\n\n$/)
  t.ok(growthBytes < 64 * MiB, `peak RSS growth ${(growthBytes / MiB).toFixed(1)} MiB`)
  t.ok(gw.logs.some((l) => l.includes('UPSTREAM_MAX_STREAM_BYTES')), 'the log names the cap that was hit')
})

t.test('an endless NDJSON stream from Ollama: cut at the stream cap', async (t) => {
  const hostile = await startHostileMock({ kind: 'ndjson-endless', bytes: 512 * MiB })
  const gw = await startGateway({
    PROVIDERS_DISABLED: 'gpt4all,pollinations',
    OLLAMA_BASE_URL: hostile.origin, OLLAMA_MODELS: 'm', OLLAMA_REMOTE_BASE_URL: '',
    STREAM_RESUME: '0',
    ...STREAM_CAP,
  })
  t.teardown(async () => {
    await gw.close()
    await hostile.close()
  })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  const got = await drain(res)
  t.equal(res.status, 200)
  t.match(got.tail, /UPSTREAM_MAX_STREAM_BYTES/, 'the stream ends with an error event naming the cap')
  t.notMatch(got.tail, /\[DONE\]/, 'never a clean end')
  await waitFor(() => hostile.pumped.length === 1, 'the hostile pump to stop')
  t.ok(hostile.pumped[0].closedEarly, 'the gateway closed the hostile socket')
  t.ok(hostile.pumped[0].written < 16 * MiB, `${(hostile.pumped[0].written / MiB).toFixed(1)} MiB written`)
})

t.test('a long answer under the stream cap is untouched (default caps): 2 MiB of text in 2,000 events', async (t) => {
  const backup = await startOpenAIMock({ models: ['m'] })
  backup.fallback = { content: 'y'.repeat(2 * MiB), pieces: 2000 }
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'm' })
  t.teardown(async () => { await gw.close(); await backup.close() })
  let streamed = ''
  for await (const chunk of await gw.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })) {
    streamed += chunk.choices[0]?.delta?.content ?? ''
  }
  t.equal(streamed.length, 2 * MiB)
})
