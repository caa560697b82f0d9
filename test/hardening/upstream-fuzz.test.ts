// A hostile upstream answering with mutated answers — wrong types, extremes, dropped and
// added fields in a JSON completion, in stream chunks, in Anthropic's message and events, in
// Ollama's NDJSON lines, OpenAI's Responses objects and events —
// must never make tiergate answer 5xx (503: every candidate failed, is the one honest 5xx) or
// log an unhandled error, in any client dialect: a broken answer is repaired at the boundary
// or is the attempt's failure (the backup answers). Seeded: the same cases on every run. This
// found the envelope bug of upstream-envelope.test.ts (a number `id`: 500 on /v1/messages).
import t, { type Test } from 'tap'
import { startGateway } from '../helpers/gateway.ts'
import { startMockServer } from '../mocks/server.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startOpenAIResponsesMock } from '../mocks/openai-responses.ts'
import { mutate, seededRandom } from '../helpers/mutate.ts'

const REQUESTS_PER_DIALECT = 300
const completion = { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }], reasoning_content: 'r' }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }
const chunk = (choice: unknown, extra: object = {}) => ({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [choice], ...extra })
const chunks = [
  chunk({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }),
  chunk({ index: 0, delta: { content: 'hel' }, finish_reason: null }),
  chunk({ index: 0, delta: { reasoning_content: 'think' }, finish_reason: null }),
  chunk({ index: 0, delta: { tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }, finish_reason: null }),
  chunk({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: null }),
  chunk({ index: 0, delta: {}, finish_reason: 'tool_calls' }),
  { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } },
]
const message = { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'thinking', thinking: 'hm', signature: 'sig' }, { type: 'text', text: 'hi' }, { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } }], stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 2, cache_read_input_tokens: 0 } }
const events: Array<[string, unknown]> = [
  ['message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 1 } } }],
  ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hel' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 0 }],
  ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }],
  ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } }],
  ['content_block_stop', { type: 'content_block_stop', index: 1 }],
  ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } }],
  ['message_stop', { type: 'message_stop' }],
]
const ollamaLines = [
  { model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: '', thinking: 'hm' }, done: false },
  { model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: 'hel' }, done: false },
  { model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] }, done: false },
  { model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', prompt_eval_count: 1, eval_count: 2, total_duration: 1000 },
]
const CLIENT_BODIES: Array<[string, Record<string, unknown>]> = [
  ['/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] }],
  ['/v1/messages', { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }],
  ['/v1/responses', { model: 'm', input: 'hi' }],
]

type Upstream = 'openai' | 'anthropic' | 'ollama' | 'openai-responses'

/** A JSON body or SSE frames, each `data:` payload mutated with probability `p`. */
function mutateWire(text: string, stream: boolean, random: () => number, p: number): string {
  if (!stream) return JSON.stringify(mutate(JSON.parse(text), random))
  return text.split('\n\n').map((frame) => frame.replace(/^data: (.*)$/m, (line, data) => (random() < p ? `data: ${JSON.stringify(mutate(JSON.parse(data), random))}` : line))).join('\n\n')
}

async function fuzz(t: Test, upstream: Upstream, seed: number) {
  const random = seededRandom(seed)
  // OpenAI's Responses API: the real mock's answers, mutated on their way through.
  const responses = upstream === 'openai-responses' ? await startOpenAIResponsesMock() : undefined
  if (responses) t.teardown(() => responses.close())
  const hostile = await startMockServer((req, res, recorded) => {
    res.writeHead(200, { 'content-type': recorded.body?.stream ? 'text/event-stream' : 'application/json' })
    if (responses) {
      if (req.url?.includes('/models')) return void res.end('{"object":"list","data":[{"id":"m","object":"model"}]}')
      return void fetch(`${responses.baseUrl}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(recorded.body) })
        .then((r) => r.text()).then((text) => res.end(mutateWire(text, recorded.body?.stream === true, random, 0.3)))
    }
    if (upstream === 'ollama') {
      if (req.url === '/api/tags') return void res.end('{"models":[{"name":"m","model":"m"}]}')
      if (req.url === '/api/version') return void res.end('{"version":"0.12.0"}')
      if (!recorded.body?.stream) return void res.end(JSON.stringify(mutate(ollamaLines.at(-1), random)))
      return void res.end(ollamaLines.map((line) => `${JSON.stringify(random() < 0.4 ? mutate(line, random) : line)}\n`).join(''))
    }
    if (req.url?.includes('/models')) {
      return void res.end(upstream === 'openai' ? '{"object":"list","data":[{"id":"m","object":"model"}]}' : '{"data":[{"type":"model","id":"m","display_name":"m","created_at":"2025-01-01T00:00:00Z"}],"has_more":false,"first_id":"m","last_id":"m"}')
    }
    if (upstream === 'anthropic') {
      if (!recorded.body?.stream) return void res.end(JSON.stringify(mutate(message, random)))
      return void res.end(events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(random() < 0.3 ? mutate(data, random) : data)}\n\n`).join(''))
    }
    if (!recorded.body?.stream) return void res.end(JSON.stringify(mutate(completion, random)))
    res.end(chunks.map((c) => `data: ${JSON.stringify(random() < 0.4 ? mutate(c, random) : c)}\n\n`).join('') + (random() < 0.8 ? 'data: [DONE]\n\n' : ''))
  })
  const backup = await startOpenAIMock({ models: ['m'] })
  const tier1: Record<string, string> = upstream === 'openai-responses'
    ? { OPENAI_API_KEY: 'sk-test-openai-000011112222', OPENAI_BASE_URL: `${hostile.origin}/v1`, OPENAI_MODELS: 'm', PROVIDER_PRIORITY_OPENAI: '1', CUSTOM_PROVIDERS: 'backup' }
    : upstream === 'ollama'
    ? { PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_BASE_URL: hostile.origin, OLLAMA_MODELS: 'm', OLLAMA_REMOTE_BASE_URL: '', PROVIDER_PRIORITY_OLLAMA: '1', CUSTOM_PROVIDERS: 'backup' }
    : upstream === 'anthropic'
    ? { ANTHROPIC_API_KEY: 'sk-ant-test-000011112222', ANTHROPIC_BASE_URL: hostile.origin, ANTHROPIC_MODELS: 'm', PROVIDER_PRIORITY_ANTHROPIC: '1', CUSTOM_PROVIDERS: 'backup' }
    : { CUSTOM_PROVIDERS: 'hostile,backup', HOSTILE_BASE_URL: `${hostile.origin}/v1`, HOSTILE_MODELS: 'm', PROVIDER_PRIORITY_HOSTILE: '1' }
  // The breaker stays closed (every request reaches the hostile upstream) and a key is set (the secret scrubber walks every answer).
  const gw = await startGateway({ ...tier1, BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'm', PROVIDER_PRIORITY_BACKUP: '2', BACKUP_API_KEY: 'sk-backup-0123456789abcdefXYZ', RATE_LIMIT_MAX: '0', BREAKER_VOLUME_THRESHOLD: '1000000' })
  t.teardown(async () => { await gw.close(); await hostile.close(); await backup.close() })
  const failures: string[] = []
  // The Responses API is only asked natively, by a Responses client.
  const clients = responses ? CLIENT_BODIES.filter(([path]) => path === '/v1/responses') : CLIENT_BODIES
  for (const [path, body] of clients) {
    for (let i = 0; i < REQUESTS_PER_DIALECT; i++) {
      const stream = random() < 0.5
      const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ ...body, stream }) })
      const text = await res.text()
      if ((res.status >= 500 && res.status !== 503) || /internal error/.test(text)) failures.push(`${path} stream=${stream}: ${res.status} ${text.slice(-300)}`)
    }
  }
  const unhandled = gw.logs.filter((l) => l.includes('"unhandled error"'))
  t.same(failures.slice(0, 5), [], `no 5xx of ${clients.length * REQUESTS_PER_DIALECT} requests (${failures.length} failed)`)
  t.same(unhandled.slice(0, 3).map((l) => l.slice(0, 600)), [], `no unhandled error logged (${unhandled.length})`)
  // Every request was first offered to the hostile upstream (its breaker never opens here).
  const asked = hostile.requests.filter((r) => !/models|api\/tags|api\/version/.test(r.url)).length
  t.ok(asked >= clients.length * REQUESTS_PER_DIALECT, `the hostile upstream answered ${asked} requests`)
}

for (const upstream of ['openai', 'anthropic', 'ollama', 'openai-responses'] as const) {
  for (const seed of [7, 12345]) t.test(`${upstream} upstream, mutated answers (seed ${seed})`, (t) => fuzz(t, upstream, seed))
}
