// Issue 9 item 7: streamed tool-call indexes are small non-negative integers. `index:
// 4294967294` once blocked the event loop for 103 s on a session request; `index:
// "__proto__"` set Array.prototype.id for the whole process. A fragment without an index
// (Gemini) belongs to the current call. Client- and upstream-supplied names are looked up as
// own keys only: `reasoning_effort: "constructor"` made Anthropic's max_tokens a string.
import t, { type Test } from 'tap'
import { startGateway, postJson, sseData } from '../helpers/gateway.ts'
import { startMockServer } from '../mocks/server.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startAnthropicMock } from '../mocks/anthropic.ts'
import { startOllamaMock } from '../mocks/ollama.ts'
import { ToolCallIndexer, ToolCallAccumulator, BadIndexError } from '../../providers/tool-call-index.ts'
import { ownEntry } from '../../providers/lookup.ts'
import { toFunctions } from '../../providers/local/translate.ts'

const base = '"id":"c1","object":"chat.completion.chunk","created":1,"model":"m"'
const frame = (delta: string, finish: string | null = null) => `data: {${base},"choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]}\n\n`

/** A tier-1 upstream streaming these tool-call fragments, and a tier-2 backup. */
async function setup(t: Test, fragments: string[]) {
  const hostile = await startMockServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(frame('{"role":"assistant","content":null}'))
    for (const fragment of fragments) res.write(frame(`{"tool_calls":[${fragment}]}`))
    res.write(frame('{}', 'tool_calls'))
    res.end('data: [DONE]\n\n')
  })
  const backup = await startOpenAIMock({ models: ['m'] })
  backup.fallback = { content: 'from backup' }
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'hostile,backup',
    HOSTILE_BASE_URL: `${hostile.origin}/v1`, HOSTILE_MODELS: 'm', PROVIDER_PRIORITY_HOSTILE: '1',
    BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'm', PROVIDER_PRIORITY_BACKUP: '2',
  })
  t.teardown(async () => { await gw.close(); await hostile.close(); await backup.close() })
  return gw
}

const streamRequest = (gw: { url: string }, extra: Record<string, unknown> = {}) =>
  fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }], ...extra }) })

t.test('ToolCallIndexer: a table', async (t) => {
  const indexer = new ToolCallIndexer()
  t.equal(indexer.resolve({ index: 0, id: 'a' }), 0)
  t.equal(indexer.resolve({}), 0, 'no index: the current call')
  t.equal(indexer.resolve({ id: 'b' }), 1, 'no index but a new id: the next call')
  t.equal(indexer.resolve({}), 1)
  t.equal(indexer.resolve({ index: 5 }), 5)
  t.equal(new ToolCallIndexer().resolve({ id: 'x' }), 0, 'the first call is 0')
  for (const bad of [4294967294, -1, 1.5, 128, '0', '__proto__', NaN, {}]) {
    t.throws(() => new ToolCallIndexer().resolve({ index: bad }), BadIndexError, `index ${String(bad)}`)
  }
})

t.test('ToolCallAccumulator keys by index in a Map: no prototype, no sparse array', async (t) => {
  const acc = new ToolCallAccumulator()
  acc.add({ index: '__proto__' as unknown as number, id: 'evil', function: { name: 'x' } })
  acc.add({ index: 4294967294, id: 'far', function: { name: 'y', arguments: '{}' } })
  acc.add({ index: 0, id: 'a', function: { name: 'f', arguments: '{"q":' } })
  acc.add({ index: 0, function: { arguments: '1}' } })
  t.equal((Array.prototype as unknown as { id?: string }).id, undefined)
  t.equal(acc.size, 3)
  t.same(acc.calls().find((c) => c.id === 'a'), { id: 'a', type: 'function', function: { name: 'f', arguments: '{"q":1}' } })
})

t.test('ownEntry: only own keys', async (t) => {
  const table = { low: 1 }
  for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 5, undefined]) t.equal(ownEntry(table, key), undefined, String(key))
  t.equal(ownEntry(table, 'low'), 1)
})

t.test('index 4294967294 on a session request: a malformed attempt, the backup answers at once', async (t) => {
  const gw = await setup(t, ['{"index":4294967294,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}'])
  const res = await streamRequest(gw, { session_id: 'huge-index' })
  t.equal(res.headers.get('x-tiergate-provider'), 'backup', 'the bad index failed the attempt before commit')
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]')
  const json = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', session_id: 'huge-index', messages: [{ role: 'user', content: 'again' }] })
  t.equal(json.status, 200, 'the session still works')
})

t.test('index "__proto__" pollutes nothing', async (t) => {
  const gw = await setup(t, ['{"index":"__proto__","id":"polluted","type":"function","function":{"name":"f","arguments":"{}"}}'])
  const res = await streamRequest(gw, { session_id: 'proto-index' })
  await res.text()
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  t.equal((Array.prototype as unknown as { id?: string }).id, undefined, 'Array.prototype.id is not set')
  t.equal(({} as { id?: string }).id, undefined)
})

t.test('fragments without an index (Gemini) become calls 0 and 1, in the answer and in the session', async (t) => {
  const gw = await setup(t, [
    '{"id":"call_a","type":"function","function":{"name":"first","arguments":"{\\"x\\":"}}',
    '{"function":{"arguments":"1}"}}',
    '{"id":"call_b","type":"function","function":{"name":"second","arguments":"{}"}}',
  ])
  const res = await streamRequest(gw, { session_id: 'gemini-style' })
  t.equal(res.headers.get('x-tiergate-provider'), 'hostile')
  const chunks = (await sseData(res)).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d))
  const fragments = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? [])
  // The gateway may pass fragments on as they come or whole (it holds calls to resume streams).
  const byIndex = new Map<number, string>()
  for (const f of fragments as Array<{ index: number; function?: { arguments?: string } }>) byIndex.set(f.index, (byIndex.get(f.index) ?? '') + (f.function?.arguments ?? ''))
  t.same([...byIndex], [[0, '{"x":1}'], [1, '{}']], 'two calls, indexes 0 and 1, arguments whole')
  const session = await (await fetch(`${gw.url}/sessions/gemini-style`)).json() as { messages: Array<{ role: string; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }> }> }
  const calls = session.messages.find((m) => m.role === 'assistant')?.tool_calls
  t.same(calls?.map((c) => [c.id, c.function.name, c.function.arguments]), [['call_a', 'first', '{"x":1}'], ['call_b', 'second', '{}']])
})

t.test('Anthropic: reasoning_effort "constructor" is a clear 400, not max_tokens "4096function Object()…"', async (t) => {
  const anthropic = await startAnthropicMock()
  const gw = await startGateway({ ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl })
  t.teardown(async () => { await gw.close(); await anthropic.close() })
  for (const effort of ['constructor', 'toString', '__proto__']) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: anthropic.models[0], reasoning_effort: effort, messages: [{ role: 'user', content: 'hi' }] })
    t.equal(res.status, 400, `${effort}: ${res.text.slice(0, 160)}`)
    t.match(res.json.error.message, /reasoning_effort must be one of/)
  }
  for (const request of anthropic.messageRequests()) t.type(request.body.max_tokens, 'number')
  t.equal(anthropic.messageRequests().length, 0, 'nothing was sent')
})

t.test('Ollama: reasoning_effort "__proto__" sends no think', async (t) => {
  const local = await startOllamaMock({ models: ['qwen3'] })
  const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_BASE_URL: local.origin, OLLAMA_REMOTE_BASE_URL: '' })
  t.teardown(async () => { await gw.close(); await local.close() })
  for (const effort of ['__proto__', 'toString', 'constructor']) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'qwen3', reasoning_effort: effort, messages: [{ role: 'user', content: 'hi' }] })
    t.equal(res.status, 200, res.text.slice(0, 160))
    t.notOk('think' in local.chatRequests().at(-1)!.body, `${effort}: no think field`)
  }
})

t.test('local model: a tool named "__proto__" is an own entry, not the prototype of the functions object', async (t) => {
  const functions = toFunctions({ model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: [
    { type: 'function', function: { name: '__proto__', parameters: { type: 'object' } } },
    { type: 'function', function: { name: 'ok', parameters: { type: 'object' } } },
  ] } as never)!
  t.same(Object.keys(functions).sort(), ['__proto__', 'ok'])
  t.equal(Object.getPrototypeOf(functions), Object.prototype)
})
