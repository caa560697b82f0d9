// Native passthrough: an Anthropic client served by the `anthropic` provider gets its own body
// sent upstream as it is (cache_control, unknown fields, anthropic-version/-beta) and the
// upstream's events back byte for byte (thinking signatures included); a fallback to an
// OpenAI-shaped provider translates; failures after commit end with `event: error`; a resume
// onto another provider continues the same message with consistent block indexes;
// count_tokens asks Anthropic; MODEL_ALIASES spans both dialects.
import t, { type Test } from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startAnthropicMock, anthropicError, messageFor, mockTokenCount, streamFrames, type AnthropicAnswer } from '../mocks/anthropic.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { estimateInputTokens } from '../../dialects/anthropic-messages/count-tokens.ts'

const MODEL = 'claude-haiku-4-5'
const SIGNATURE = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' // the mock's thinking signature

async function setup(t: Test, env: Record<string, string> = {}) {
  const anthropic = await startAnthropicMock({ models: [MODEL] })
  const backup = await startOpenAIMock({ models: [MODEL] })
  backup.fallback = { content: 'Hello from the backup tier' }
  const gw = await startGateway({
    ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl,
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '2',
    ...env,
  })
  t.teardown(async () => { await gw.close(); await anthropic.close(); await backup.close() })
  return { anthropic, backup, gw, client: new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0, timeout: 20_000 }) }
}

const post = (gw: Gateway, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body: JSON.stringify(body) })

const parse = (text: string) => text.split('\n\n').filter((f) => f.startsWith('event: ')).map((f) => ({ type: /^event: (.*)$/m.exec(f)![1], data: JSON.parse(/^data: (.*)$/m.exec(f)![1]) }))

/** A client body with what only Anthropic understands: cache_control, a signed thinking block, an unknown field. */
const nativeBody = (stream: boolean) => ({
  model: MODEL,
  max_tokens: 4000,
  stream,
  system: [{ type: 'text', text: 'You are a careful assistant.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
  thinking: { type: 'enabled', budget_tokens: 2048 },
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'First question', cache_control: { type: 'ephemeral' } }] },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'Earlier thought.', signature: 'SIGNED-BY-ANTHROPIC==' }, { type: 'text', text: 'Earlier answer.' }] },
    { role: 'user', content: 'And now?' },
  ],
  metadata: { user_id: 'user-42' },
  top_k: 20,
  service_tier: 'auto',
  a_field_from_next_year: { nested: [1, 'two'] },
})

t.test('native stream: the body goes up as it is, the events come back byte for byte', async (t) => {
  const { anthropic, backup, gw } = await setup(t)
  const answer: AnthropicAnswer = { thinking: 'Let me think about it.', text: 'Here is my answer.', usage: { input_tokens: 50, output_tokens: 20, cache_read_input_tokens: 1800, cache_creation_input_tokens: 300 } }
  anthropic.script(answer)
  const body = nativeBody(true)
  const res = await post(gw, '/v1/messages', body, { 'anthropic-version': '2026-10-21', 'anthropic-beta': 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14' })
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'anthropic')
  const text = await res.text()
  t.equal(text, streamFrames(MODEL, answer).join(''), 'every upstream event, pings included, byte for byte')
  t.ok(text.includes(`"signature":"${SIGNATURE}"`), 'the thinking signature arrived')

  const sent = anthropic.messageRequests()[0]
  t.same(sent.body, body, 'cache_control, the signed thinking block, top_k, service_tier and the unknown field went up untouched')
  t.equal(sent.headers['anthropic-version'], '2026-10-21', 'the client\'s anthropic-version is forwarded')
  t.equal(sent.headers['anthropic-beta'], 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14')
  t.equal(sent.headers['x-api-key'], anthropic.apiKey, 'the provider key, never the client\'s')
  t.equal(backup.chatRequests().length, 0)
})

t.test('native JSON: the upstream body byte for byte; the SDK sees the signature and cache usage', async (t) => {
  const { anthropic, gw, client } = await setup(t)
  const answer: AnthropicAnswer = { thinking: 'Hmm.', text: 'Done.', usage: { input_tokens: 5, output_tokens: 2, cache_read_input_tokens: 900, cache_creation_input_tokens: 0 } }
  anthropic.script(answer)
  const res = await post(gw, '/v1/messages', nativeBody(false))
  t.equal(await res.text(), JSON.stringify(messageFor(MODEL, answer)))
  t.match(res.headers.get('content-type'), /^application\/json/)

  anthropic.script(answer)
  const message = await client.messages.create(nativeBody(false) as never) as Anthropic.Message
  t.same(message.content[0], { type: 'thinking', thinking: 'Hmm.', signature: SIGNATURE })
  t.equal(message.usage.cache_read_input_tokens, 900)

  anthropic.script({ text: 'Streamed.', thinking: 'Quick thought.' })
  const final = await client.messages.stream({ model: MODEL, max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'hi' }] }).finalMessage()
  t.same(final.content, [{ type: 'thinking', thinking: 'Quick thought.', signature: SIGNATURE }, { type: 'text', text: 'Streamed.' }])
  t.equal(final.id, 'msg_01MockMessage')
})

t.test('a fallback to an OpenAI-shaped provider translates (invisible before commit)', async (t) => {
  const { anthropic, backup, gw, client } = await setup(t)
  anthropic.fallback = anthropicError(529, 'overloaded_error', 'Overloaded') as never
  const { data, response } = await client.messages.create(nativeBody(false) as never).withResponse() as unknown as { data: Anthropic.Message; response: Response }
  t.same(data.content, [{ type: 'text', text: 'Hello from the backup tier' }])
  t.equal(response.headers.get('x-tiergate-provider'), 'backup')
  const translated = backup.chatRequests()[0].body
  t.same(translated.messages[0], { role: 'system', content: 'You are a careful assistant.' })
  t.notOk(JSON.stringify(translated).includes('cache_control'), 'cache_control does not survive translation')
  t.notOk('top_k' in translated || 'service_tier' in translated || 'a_field_from_next_year' in translated)
  t.equal(translated.reasoning_effort, 'low')

  // Streaming: an overload right after message_start (nothing committed) falls through too.
  anthropic.fallback = { text: 'never seen', errorAfter: 2 }
  const res = await post(gw, '/v1/messages', nativeBody(true))
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  const events = parse(await res.text())
  t.equal(events.filter((e) => e.type === 'message_start').length, 1, 'one message_start: the failed native leg left nothing')
  t.equal(events.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text).join(''), 'Hello from the backup tier')
  t.equal(events.at(-1)!.type, 'message_stop')
})

t.test('a native failure after commit that nothing resumes: upstream events, then event: error, no message_stop', async (t) => {
  const { anthropic, gw, client } = await setup(t, { STREAM_RESUME: '0' })
  // message_start, ping, content_block_start, a text delta — then an in-band overloaded error.
  const answer: AnthropicAnswer = { text: 'Hello there, friend!', errorAfter: 4 }
  anthropic.script(answer)
  const res = await post(gw, '/v1/messages', nativeBody(true))
  const text = await res.text()
  const sentBefore = streamFrames(MODEL, answer).slice(0, 4).join('')
  t.ok(text.startsWith(sentBefore), 'what the upstream sent before failing, byte for byte')
  const events = parse(text.slice(sentBefore.length))
  t.same(events.map((e) => e.type), ['error'])
  t.same(events[0].data, { type: 'error', error: { type: 'overloaded_error', message: events[0].data.error.message } })
  t.match(events[0].data.error.message, /overloaded_error: Overloaded/)
  t.notOk(text.includes('message_stop'))

  anthropic.script(answer)
  await t.rejects(client.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage(), /overloaded/i)
})

t.test('a native leg cut mid-answer and resumed on an OpenAI-shaped provider: one message, block indexes consistent', async (t) => {
  const { anthropic, backup, gw } = await setup(t)
  anthropic.fallback = { text: 'unused' }
  // The first leg: message_start, ping, block 0 start, a text delta, a ping, another delta — then the socket dies.
  anthropic.script({ text: 'The answer is forty-two, as everyone knows.', pieces: 3, cutAfter: 6 }, anthropicError(529, 'overloaded_error', 'Overloaded'), anthropicError(529, 'overloaded_error', 'Overloaded'))
  backup.fallback = { content: ' as everyone knows.' }
  const res = await post(gw, '/v1/messages', { model: MODEL, max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'What is the answer?' }] })
  const raw = await res.text()
  const events = parse(raw)
  const notes = raw.split('\n\n').filter((f) => f.startsWith(': '))
  t.equal(notes.length, 1, `the router's resume note is an SSE comment (${JSON.stringify(notes)})`)
  t.equal(events.filter((e) => e.type === 'message_start').length, 1, 'one message')
  t.equal(events.at(-1)!.type, 'message_stop', 'a clean end: the answer was resumed')
  // Every delta goes to the open block; every block starts at the next index and stops once.
  let open: number | undefined
  let next = 0
  for (const e of events) {
    if (e.type === 'content_block_start') { t.equal(open, undefined, 'no block open'); t.equal(e.data.index, next, `block ${next} starts in order`); open = e.data.index; next++ }
    if (e.type === 'content_block_delta') t.equal(e.data.index, open, 'delta to the open block')
    if (e.type === 'content_block_stop') { t.equal(e.data.index, open); open = undefined }
  }
  t.equal(open, undefined, 'every block stopped')
  const text = events.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text).join('')
  t.match(text, /^The answer is/, `the native leg's text first (${JSON.stringify(text)})`)
  t.ok(backup.chatRequests().length >= 1, 'the continuation went to the backup tier')
})

t.test('count_tokens: Anthropic\'s own count when it serves the model; an o200k estimate otherwise or when it fails', async (t) => {
  const { anthropic, gw, client } = await setup(t)
  const params = { model: MODEL, system: 'You are terse.', messages: [{ role: 'user' as const, content: 'Hello, Claude' }], tools: [{ name: 'f', input_schema: { type: 'object' as const } }] }
  const counted = await client.messages.countTokens(params)
  t.equal(counted.input_tokens, mockTokenCount(params), 'the upstream count')
  t.same(anthropic.countRequests()[0].body, params, 'the client body went up (model replaced)')
  const res = await post(gw, '/v1/messages/count_tokens', params)
  t.equal(res.headers.get('x-tiergate-token-count'), 'anthropic')
  t.ok(res.headers.get('request-id'))

  anthropic.scriptCount(anthropicError(500, 'api_error', 'boom'))
  const estimated = await post(gw, '/v1/messages/count_tokens', params)
  t.equal(estimated.headers.get('x-tiergate-token-count'), 'estimate', 'a failed count falls back to the estimate')
  const estimate = (await estimated.json()).input_tokens
  t.ok(estimate > 5 && estimate !== mockTokenCount(params), `an estimate (${estimate})`)
  t.equal(estimate, await estimateInputTokens(params), 'the worker counts what the in-thread tokenizer counts')

  const other = await client.messages.countTokens({ ...params, model: `backup/${MODEL}` })
  t.equal(other.input_tokens, estimate, 'a non-Anthropic provider: the estimate')
  const longer = await client.messages.countTokens({ ...params, model: `backup/${MODEL}`, messages: [{ role: 'user', content: 'Hello, Claude. '.repeat(50) }] })
  t.ok(longer.input_tokens > other.input_tokens + 100, 'the estimate grows with the input')
})

t.test('MODEL_ALIASES=claude-sonnet-4-5=anthropic/claude-sonnet-4-5|groq/llama-3.3-70b-versatile works for an Anthropic client', async (t) => {
  const anthropic = await startAnthropicMock({ models: ['claude-sonnet-4-5'] })
  const groq = await startOpenAIMock({ models: ['llama-3.3-70b-versatile'] })
  groq.fallback = { content: 'Hello from Groq' }
  const gw = await startGateway({
    ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl,
    GROQ_API_KEY: 'gsk_test_key_0000', GROQ_BASE_URL: groq.baseUrl,
    MODEL_ALIASES: 'claude-sonnet-4-5=anthropic/claude-sonnet-4-5|groq/llama-3.3-70b-versatile',
  })
  t.teardown(async () => { await gw.close(); await anthropic.close(); await groq.close() })
  const body = { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }

  const first = await post(gw, '/v1/messages', body)
  t.equal(first.headers.get('x-tiergate-provider'), 'anthropic')
  t.equal((await first.json()).content[0].text, 'Hello from Claude')
  t.equal(anthropic.messageRequests()[0].body.model, 'claude-sonnet-4-5')

  // Anthropic overloaded from now on (the router may retry it once before moving on).
  anthropic.fallback = anthropicError(529, 'overloaded_error', 'Overloaded') as never
  const second = await post(gw, '/v1/messages', { ...body, stream: true })
  t.equal(second.headers.get('x-tiergate-provider'), 'groq')
  const events = parse(await second.text())
  t.equal(events.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text).join(''), 'Hello from Groq')
  t.equal(events.at(-1)!.type, 'message_stop')
  const sent = groq.chatRequests()[0]
  t.equal(sent.body.model, 'llama-3.3-70b-versatile')
  t.equal(sent.headers.authorization, 'Bearer gsk_test_key_0000')
})

t.test('with a session, the stored history goes in front of the native body', async (t) => {
  const { anthropic, client } = await setup(t)
  anthropic.script({ text: 'Hi Ada.' }, { text: 'You are Ada.' })
  const headers = { 'x-session-id': 'native-session-1' }
  await client.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'I am Ada.' }] }, { headers })
  // The second turn names the session in the body instead, as on Chat Completions.
  const second = await client.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'Who am I?' }], session_id: 'native-session-1' } as Anthropic.MessageCreateParamsNonStreaming)
  t.same(second.content, [{ type: 'text', text: 'You are Ada.' }])
  t.notOk(anthropic.messageRequests().some((r) => 'session_id' in r.body), 'session_id never goes upstream')
  t.same(anthropic.messageRequests()[1].body.messages, [
    { role: 'user', content: 'I am Ada.' },
    { role: 'assistant', content: 'Hi Ada.' },
    { role: 'user', content: 'Who am I?' },
  ])
})

// Before, a session's turn went translated: cache_control (Anthropic caches only what it marks),
// top_k, metadata and the system prompt's blocks were dropped on every turn of every session.
t.test('a session turn stays native: the client\'s cache_control, top_k, metadata and system blocks reach Anthropic, after the history', async (t) => {
  const { anthropic, client } = await setup(t)
  anthropic.script({ toolUses: [{ id: 'toolu_1', name: 'lookup', input: { q: 'Ada' } }] }, { text: 'Ada Lovelace.' })
  const system = [{ type: 'text' as const, text: 'You are terse.', cache_control: { type: 'ephemeral' as const } }]
  const tools = [{ name: 'lookup', description: 'Look a name up.', input_schema: { type: 'object' as const, properties: { q: { type: 'string' } } } }]
  const session = { session_id: 'native-session-2' }
  await client.messages.create({ model: MODEL, max_tokens: 50, system, tools, messages: [{ role: 'user', content: 'Who is Ada?' }], ...session } as Anthropic.MessageCreateParamsNonStreaming)
  const turn = [{ role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: 'toolu_1', content: 'a mathematician', cache_control: { type: 'ephemeral' as const } }] }]
  const second = await client.messages.create({ model: MODEL, max_tokens: 50, system, tools, top_k: 5, metadata: { user_id: 'u-1' }, messages: turn, ...session } as Anthropic.MessageCreateParamsNonStreaming)
  t.same(second.content, [{ type: 'text', text: 'Ada Lovelace.' }])
  const sent = anthropic.messageRequests()[1].body
  t.same(sent.system, system, 'the system prompt once, as the client sent it (cache_control included), not repeated from the history')
  t.equal(sent.top_k, 5)
  t.same(sent.metadata, { user_id: 'u-1' })
  t.notOk('session_id' in sent)
  t.same(sent.messages, [
    { role: 'user', content: 'Who is Ada?' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'Ada' } }] },
    ...turn,
  ], 'the history translated, then the client\'s turn byte for byte (its cache_control included)')
})

t.test('a native session turn cut mid-answer: resumed on the backup with the history, and the whole answer saved once', async (t) => {
  const { anthropic, backup, gw } = await setup(t)
  anthropic.script({ text: 'Noted, Ada.' }, { text: 'The answer is forty-two, as everyone knows.', pieces: 3, cutAfter: 6 }, anthropicError(529, 'overloaded_error', 'Overloaded'), anthropicError(529, 'overloaded_error', 'Overloaded'))
  backup.fallback = { content: ' as everyone knows.' }
  const session = { session_id: 'native-session-4' }
  await post(gw, '/v1/messages', { model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'I am Ada.' }], ...session })
  const res = await post(gw, '/v1/messages', { model: MODEL, max_tokens: 200, stream: true, messages: [{ role: 'user', content: 'What is the answer?' }], ...session })
  const events = parse(await res.text())
  t.equal(events.at(-1)!.type, 'message_stop', 'resumed to a clean end')
  const continuation = backup.chatRequests().at(-1)!.body.messages as Array<{ role: string; content: unknown }>
  t.same(continuation.slice(0, 3).map((m) => [m.role, m.content]), [['user', 'I am Ada.'], ['assistant', 'Noted, Ada.'], ['user', 'What is the answer?']], 'the continuation carries the session history')
  const stored = await gw.app.sessions.get('native-session-4')
  const answer = stored?.messages.at(-1)
  t.equal(answer?.role, 'assistant')
  t.match(String(answer?.content), /^The answer is .*as everyone knows\.$/, `the resumed answer is saved whole (${JSON.stringify(answer?.content)})`)
  t.equal(stored?.messages.length, 4, 'two turns, each saved once')
})

t.test('a session turn stays native: an earlier, different system prompt from the history goes in front of the client\'s', async (t) => {
  const { anthropic, client } = await setup(t)
  anthropic.script({ text: 'One.' }, { text: 'Two.' })
  const session = { session_id: 'native-session-3' }
  await client.messages.create({ model: MODEL, max_tokens: 50, system: 'Answer in English.', messages: [{ role: 'user', content: 'Count.' }], ...session } as Anthropic.MessageCreateParamsNonStreaming)
  await client.messages.create({ model: MODEL, max_tokens: 50, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: 'Again.' }], ...session } as Anthropic.MessageCreateParamsNonStreaming)
  const sent = anthropic.messageRequests()[1].body
  t.same(sent.system, [{ type: 'text', text: 'Answer in English.' }, { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }])
  t.same(sent.messages, [{ role: 'user', content: 'Count.' }, { role: 'assistant', content: 'One.' }, { role: 'user', content: 'Again.' }])
})

t.test('native tool use: byte for byte with STREAM_TOOL_CALLS=live, and held (the default): the held events are released unchanged once each call is complete', async (t) => {
  const answer: AnthropicAnswer = { text: 'Let me look.', toolUses: [{ id: 'toolu_a', name: 'read_file', input: { path: 'a.txt' } }, { id: 'toolu_b', name: 'list', input: { dir: '/' } }] }
  const body = { model: MODEL, max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] }
  const frames = streamFrames(MODEL, answer)

  const live = await setup(t, { STREAM_TOOL_CALLS: 'live' })
  live.anthropic.script(answer)
  t.equal(await (await post(live.gw, '/v1/messages', body)).text(), frames.join(''), 'live: every event as Anthropic sent it')

  const held = await setup(t)
  held.anthropic.script(answer)
  const text = await (await post(held.gw, '/v1/messages', body)).text()
  t.equal(text, frames.join(''), 'held: every event as Anthropic sent it too')
  const events = parse(text)
  t.same(events.filter((e) => e.type === 'content_block_start').map((e) => [e.data.index, e.data.content_block.type, e.data.content_block.id ?? null]),
    [[0, 'text', null], [1, 'tool_use', 'toolu_a'], [2, 'tool_use', 'toolu_b']])
  t.equal(events.at(-1)!.type, 'message_stop')
  t.equal(events.filter((e) => e.type === 'message_delta').length, 1)
  held.anthropic.script(answer)
  const final = await held.client.messages.stream(body as never).finalMessage()
  t.same(final.content, [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 'toolu_a', name: 'read_file', input: { path: 'a.txt' } }, { type: 'tool_use', id: 'toolu_b', name: 'list', input: { dir: '/' } }])
  t.equal(final.stop_reason, 'tool_use')
})
