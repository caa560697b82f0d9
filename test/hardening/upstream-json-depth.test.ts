// JSON from upstreams nests at most UPSTREAM_MAX_JSON_DEPTH (128) levels. V8's JSON.parse takes
// any depth, but what follows it recurses (the response serializer, the secret scrubber, the
// dialect encoders): a 200,000-deep field in an answer made tiergate answer 500 internal_error
// instead of asking the next provider. Now such an answer is malformed, like any broken answer.
import t, { type Test } from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startMockServer } from '../mocks/server.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { parseUpstreamJson, UPSTREAM_MAX_JSON_DEPTH } from '../../providers/json-depth.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels)
const DEEP = nested(200_000)
const BACKUP_KEY = 'sk-backup-secret-0123456789abcdef'

t.test('parseUpstreamJson: up to the limit parsed, one level more malformed (objects and arrays)', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['flat', '{"a":1}', true],
    ['objects at the limit', nested(UPSTREAM_MAX_JSON_DEPTH), true],
    ['objects one deeper', nested(UPSTREAM_MAX_JSON_DEPTH + 1), false],
    ['arrays at the limit (2 × 128 characters: too short to be deeper, not walked)', '['.repeat(UPSTREAM_MAX_JSON_DEPTH) + ']'.repeat(UPSTREAM_MAX_JSON_DEPTH), true],
    ['arrays at the limit, one character longer (walked)', '['.repeat(UPSTREAM_MAX_JSON_DEPTH) + ' ' + ']'.repeat(UPSTREAM_MAX_JSON_DEPTH), true],
    ['arrays one deeper', '['.repeat(UPSTREAM_MAX_JSON_DEPTH + 1) + ']'.repeat(UPSTREAM_MAX_JSON_DEPTH + 1), false],
    ['wide, not deep', `[${Array.from({ length: 100_000 }, () => '{"b":[1]}').join(',')}]`, true],
    ['a scalar', '"text"', true],
  ]
  for (const [name, text, ok] of cases) {
    if (ok) t.same(parseUpstreamJson(text), JSON.parse(text), name)
    else {
      const err = (() => { try { parseUpstreamJson(text) } catch (e) { return e } })() as UpstreamError
      t.ok(err instanceof UpstreamError && err.kind === 'malformed' && /nests deeper than 128/.test(err.message), name)
    }
  }
  t.throws(() => parseUpstreamJson('{"a":'), SyntaxError, 'invalid JSON is still JSON.parse\'s SyntaxError')
})

/** An OpenAI-compatible upstream whose every answer carries a 200,000-deep `extra` field. */
async function deepOpenAI(t: Test) {
  // startMockServer has read the request body (recorded.body) before a handler runs.
  const hostile = await startMockServer((req, res, recorded) => {
    if (req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end('{"object":"list","data":[{"id":"m","object":"model"}]}')
    }
    {
      if (recorded.body?.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.end(`data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","extra":${DEEP},"choices":[{"index":0,"delta":{"content":"deep"},"finish_reason":null}]}\n\n`
          + 'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
      } else {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(`{"id":"x","object":"chat.completion","created":1,"model":"m","extra":${DEEP},"choices":[{"index":0,"message":{"role":"assistant","content":"deep"},"finish_reason":"stop"}]}`)
      }
    }
  })
  t.teardown(() => hostile.close())
  return hostile
}

async function twoTiers(t: Test, hostileBaseUrl: string, env: Record<string, string> = {}) {
  const backup = await startOpenAIMock({ models: ['m'] })
  backup.fallback = { content: 'from backup' }
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'hostile,backup',
    HOSTILE_BASE_URL: hostileBaseUrl, HOSTILE_MODELS: 'm', PROVIDER_PRIORITY_HOSTILE: '1',
    BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'm', PROVIDER_PRIORITY_BACKUP: '2',
    ...env,
  })
  t.teardown(async () => { await gw.close(); await backup.close() })
  return gw
}

for (const [name, env] of [['no keys configured', {}], ['a key configured (the secret scrubber walks answers)', { BACKUP_API_KEY: BACKUP_KEY }]] as const) {
  t.test(`a 200,000-deep field in a JSON answer is malformed: the next provider answers (${name})`, async (t) => {
    const hostile = await deepOpenAI(t)
    const gw = await twoTiers(t, `${hostile.origin}/v1`, env)
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    t.equal(res.status, 200, 'not a 500')
    t.equal(res.headers.get('x-tiergate-provider'), 'backup')
    t.equal(res.json.choices[0].message.content, 'from backup')
    t.ok(gw.logs.some((l) => l.includes('nests deeper than 128')), 'the attempt log says why')
  })
}

t.test('a 200,000-deep field in a stream\'s first chunk: malformed before commit, the next provider streams', async (t) => {
  const hostile = await deepOpenAI(t)
  const gw = await twoTiers(t, `${hostile.origin}/v1`, { BACKUP_API_KEY: BACKUP_KEY })
  let text = ''
  const stream = await gw.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, 'from backup')
})

t.test('Anthropic native (/v1/messages): a deep answer is malformed, the next provider answers in Anthropic\'s shape', async (t) => {
  const anthropic = await startMockServer((req, res) => {
    if (req.url?.startsWith('/v1/models')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end('{"data":[{"type":"model","id":"m","display_name":"m","created_at":"2025-01-01T00:00:00Z"}],"has_more":false,"first_id":"m","last_id":"m"}')
    }
    {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(`{"id":"msg_1","type":"message","role":"assistant","model":"m","extra":${DEEP},"content":[{"type":"text","text":"deep"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`)
    }
  })
  t.teardown(() => anthropic.close())
  const backup = await startOpenAIMock({ models: ['m'] })
  backup.fallback = { content: 'from backup' }
  const gw = await startGateway({
    ANTHROPIC_API_KEY: 'sk-ant-test-1', ANTHROPIC_BASE_URL: anthropic.origin, ANTHROPIC_MODELS: 'm', PROVIDER_PRIORITY_ANTHROPIC: '1',
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, BACKUP_MODELS: 'm', PROVIDER_PRIORITY_BACKUP: '2',
  })
  t.teardown(async () => { await gw.close(); await backup.close() })
  const client = new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0 })
  const message = await client.messages.create({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
  t.same(message.content, [{ type: 'text', text: 'from backup' }])
})

t.test('Ollama NDJSON: a deep line is malformed', async (t) => {
  const ollama = await startMockServer((req, res) => {
    if (req.url === '/api/tags') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end('{"models":[{"name":"m","model":"m"}]}')
    }
    if (req.url === '/api/version') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end('{"version":"0.12.0"}')
    }
    {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      res.end(`{"model":"m","message":{"role":"assistant","content":"deep"},"extra":${DEEP},"done":false}\n{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}\n`)
    }
  })
  t.teardown(() => ollama.close())
  const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_BASE_URL: ollama.origin, OLLAMA_MODELS: 'm', OLLAMA_REMOTE_BASE_URL: '' })
  t.teardown(() => gw.close())
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  const body = await res.json() as { error: { message: string } }
  t.equal(res.status, 503, 'the only provider failed before its first chunk: an honest error, not a 500')
  t.match(body.error.message, /nests deeper than 128/)
})

t.test('deep tool-call arguments from an OpenAI upstream reach an Anthropic client as text, not a 500', async (t) => {
  const upstream = await startOpenAIMock({ models: ['m'] })
  upstream.fallback = { toolCalls: [{ id: 'call_1', name: 'lookup', arguments: DEEP }], finishReason: 'tool_calls' }
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'up', UP_BASE_URL: upstream.baseUrl, UP_MODELS: 'm' })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  const res = await postJson(`${gw.url}/v1/messages`, { model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }, { 'anthropic-version': '2023-06-01' })
  t.equal(res.status, 200)
  const use = res.json.content.find((b: { type: string }) => b.type === 'tool_use')
  t.same(Object.keys(use.input), ['arguments'], 'under one key, as arguments that are not an object')
  t.equal(use.input.arguments.length, DEEP.length)
})
