// Anthropic's native Messages API behind tiergate, driven with the official OpenAI SDK:
// request translation, JSON and SSE answers (text, tools, thinking, usage), errors and
// fallback, catalog discovery.
import t, { type Test } from 'tap'
import { startAnthropicMock, anthropicError, type AnthropicMock } from '../mocks/anthropic.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, sseData } from '../helpers/gateway.ts'

const MODEL = 'claude-sonnet-4-5'

async function setup(t: Test, env: Record<string, string> = {}, mockOptions: Parameters<typeof startAnthropicMock>[0] = {}) {
  const anthropic = await startAnthropicMock(mockOptions)
  const backup = await startOpenAIMock({ models: [MODEL] })
  backup.fallback = { content: 'Hello from the backup tier' }
  const gw = await startGateway({
    ANTHROPIC_API_KEY: anthropic.apiKey,
    ANTHROPIC_BASE_URL: anthropic.baseUrl,
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '2',
    ...env,
  })
  t.teardown(async () => { await gw.close(); await anthropic.close(); await backup.close() })
  return { anthropic, backup, gw }
}

const lastBody = (mock: AnthropicMock) => mock.messageRequests().at(-1)!.body

async function streamText(res: Response) {
  const data = await sseData(res)
  return { data, chunks: data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d)) }
}

t.test('non-stream: text, finish_reason, usage; headers and the translated request', async (t) => {
  const { gw, anthropic } = await setup(t)
  const { data, response } = await gw.client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
      { role: 'user', content: 'hi' },
    ],
    stop: 'END',
    user: 'user-42',
    temperature: 1.6,
    top_p: 0.9,
  }).withResponse()
  t.equal(data.choices[0].message.content, 'Hello from Claude')
  t.equal(data.choices[0].finish_reason, 'stop')
  t.same(data.usage, { prompt_tokens: 29, completion_tokens: 5, total_tokens: 34 })
  t.equal(data.object, 'chat.completion')
  t.equal(response.headers.get('x-tiergate-provider'), 'anthropic')

  const sent = anthropic.messageRequests()[0]
  t.equal(sent.headers['x-api-key'], anthropic.apiKey)
  t.equal(sent.headers['anthropic-version'], '2023-06-01')
  t.notOk(sent.headers.authorization, 'no Bearer header goes to Anthropic')
  t.same(sent.body, {
    model: MODEL,
    max_tokens: 4096, // ANTHROPIC_DEFAULT_MAX_TOKENS
    messages: [{ role: 'user', content: 'hi' }],
    system: 'You are terse.\n\nAnswer in English.',
    temperature: 1, // clamped to Anthropic's maximum
    top_p: 0.9,
    stop_sequences: ['END'],
    metadata: { user_id: 'user-42' },
  })
})

t.test('max_completion_tokens wins over max_tokens; ANTHROPIC_DEFAULT_MAX_TOKENS applies when neither is set', async (t) => {
  const { gw, anthropic } = await setup(t, { ANTHROPIC_DEFAULT_MAX_TOKENS: '777' })
  await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a' }], max_tokens: 50, max_completion_tokens: 60 })
  t.equal(lastBody(anthropic).max_tokens, 60)
  await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a' }], max_tokens: 50 })
  t.equal(lastBody(anthropic).max_tokens, 50)
  await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a' }] })
  t.equal(lastBody(anthropic).max_tokens, 777)
})

t.test('tools, tool_choice, assistant tool_calls, merged tool results and images are translated', async (t) => {
  const { gw, anthropic } = await setup(t)
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }]
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
  await gw.client.chat.completions.create({
    model: MODEL,
    tools,
    tool_choice: 'required',
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'What is here, and the weather?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }, { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }] },
      { role: 'assistant', content: 'Checking.', tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '' } },
      ] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'rainy' }] },
      { role: 'user', content: 'Thanks' },
    ],
  })
  const body = lastBody(anthropic)
  t.same(body.tools, [{ name: 'get_weather', description: 'Weather for a city', input_schema: tools[0].function.parameters }])
  t.same(body.tool_choice, { type: 'any' })
  t.same(body.messages, [
    { role: 'user', content: [
      { type: 'text', text: 'What is here, and the weather?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ] },
    { role: 'assistant', content: [
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: {} },
    ] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
      { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'rainy' }] },
    ] },
    { role: 'user', content: 'Thanks' },
  ])

  const choices: Array<[unknown, unknown]> = [
    ['auto', { type: 'auto' }],
    ['none', { type: 'none' }],
    [{ type: 'function', function: { name: 'get_weather' } }, { type: 'tool', name: 'get_weather' }],
  ]
  for (const [choice, expected] of choices) {
    await gw.client.chat.completions.create({ model: MODEL, tools, tool_choice: choice as 'auto', messages: [{ role: 'user', content: 'x' }] })
    t.same(lastBody(anthropic).tool_choice, expected, `tool_choice ${JSON.stringify(choice)}`)
  }
  await gw.client.chat.completions.create({ model: MODEL, tools, parallel_tool_calls: false, messages: [{ role: 'user', content: 'x' }] })
  t.same(lastBody(anthropic).tool_choice, { type: 'auto', disable_parallel_tool_use: true })
})

t.test('non-stream tool_use → tool_calls with stringified input and finish_reason tool_calls', async (t) => {
  const { gw, anthropic } = await setup(t)
  anthropic.script({ toolUses: [{ id: 'toolu_9', name: 'read_file', input: { path: '/etc/hosts', lines: [1, 2] } }] })
  const data = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'read it' }], tools: [{ type: 'function', function: { name: 'read_file' } }] })
  const message = data.choices[0].message
  t.equal(message.content, null)
  t.equal(data.choices[0].finish_reason, 'tool_calls')
  t.same(message.tool_calls, [{ id: 'toolu_9', type: 'function', function: { name: 'read_file', arguments: '{"path":"/etc/hosts","lines":[1,2]}' } }])
})

t.test('reasoning_effort → thinking budget; thinking blocks come back as reasoning_content', async (t) => {
  const { gw, anthropic } = await setup(t)
  anthropic.script({ thinking: 'The user greets me.', text: 'Hi!' })
  const data = await gw.client.chat.completions.create({ model: MODEL, reasoning_effort: 'high', max_tokens: 1000, temperature: 0.2, messages: [{ role: 'user', content: 'hi' }] })
  const body = lastBody(anthropic)
  t.same(body.thinking, { type: 'enabled', budget_tokens: 16384 })
  t.equal(body.max_tokens, 1000 + 16384, 'the answer keeps its limit, the budget comes on top')
  t.notOk('temperature' in body, 'temperature is left out with thinking on')
  t.equal(data.choices[0].message.content, 'Hi!')
  t.equal((data.choices[0].message as unknown as { reasoning_content: string }).reasoning_content, 'The user greets me.')

  await gw.client.chat.completions.create({ model: MODEL, reasoning_effort: 'low', messages: [{ role: 'user', content: 'hi' }] })
  t.same(lastBody(anthropic).thinking, { type: 'enabled', budget_tokens: 2048 })
  t.equal(lastBody(anthropic).max_tokens, 4096 + 2048)
})

t.test('stop_reason → finish_reason; cached prompt tokens count in prompt_tokens', async (t) => {
  const { gw, anthropic } = await setup(t)
  const cases: Array<[string, string]> = [['max_tokens', 'length'], ['stop_sequence', 'stop'], ['pause_turn', 'stop'], ['refusal', 'content_filter'], ['end_turn', 'stop']]
  for (const [stopReason, finish] of cases) {
    anthropic.script({ text: 'x', stopReason })
    const data = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a' }] })
    t.equal(data.choices[0].finish_reason, finish, `${stopReason} → ${finish}`)
  }
  anthropic.script({ text: 'x', usage: { input_tokens: 10, output_tokens: 3, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 } })
  const data = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a' }] })
  t.same(data.usage, { prompt_tokens: 130, completion_tokens: 3, total_tokens: 133, prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 20 } })
})

t.test('stream: text and reasoning deltas, finish_reason, usage chunk only with include_usage', async (t) => {
  const { gw, anthropic } = await setup(t)
  anthropic.script({ thinking: 'Let me think.', text: 'Hello there, friend!', pieces: 4 })
  const stream = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let reasoning = ''
  let finish
  let usage
  let first = true
  for await (const chunk of stream) {
    if (first) t.equal(chunk.choices[0].delta.role, 'assistant', 'the first chunk carries the role')
    first = false
    const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined
    text += delta?.content ?? ''
    reasoning += delta?.reasoning_content ?? ''
    finish = chunk.choices[0]?.finish_reason ?? finish
    if (chunk.usage) {
      usage = chunk.usage
      t.same(chunk.choices, [], 'the usage chunk has choices: []')
    }
  }
  t.equal(text, 'Hello there, friend!')
  t.equal(reasoning, 'Let me think.')
  t.equal(finish, 'stop')
  t.same(usage, { prompt_tokens: 29, completion_tokens: 5, total_tokens: 34 })
  t.equal(lastBody(anthropic).stream, true)

  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  const { data, chunks } = await streamText(res)
  t.equal(data.at(-1), '[DONE]')
  t.notOk(chunks.some((c) => c.usage), 'no usage chunk unless include_usage')
  t.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'msg_01MockMessage' && c.model === MODEL))
})

t.test('stream: tool_use blocks become indexed tool_call fragments', async (t) => {
  // Live: the adapter's own fragments reach the client (held, the router sends each call whole).
  const { gw, anthropic } = await setup(t, { STREAM_TOOL_CALLS: 'live' })
  anthropic.script({
    text: 'Let me look.',
    toolUses: [
      { id: 'toolu_a', name: 'read_file', input: { path: 'a.txt' } },
      { id: 'toolu_b', name: 'get_weather', input: { city: 'Paris', days: 3 } },
    ],
  })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'go' }] }) })
  const { chunks } = await streamText(res)
  const fragments = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? [])
  t.same(fragments[0], { index: 0, id: 'toolu_a', type: 'function', function: { name: 'read_file', arguments: '' } }, 'the first fragment has id and name')
  t.ok(fragments.filter((f: any) => f.id === undefined).every((f: any) => typeof f.function.arguments === 'string' && f.function.arguments.length > 0), 'later fragments carry argument pieces only')
  const calls = new Map<number, { id?: string; name?: string; args: string }>()
  for (const f of fragments) {
    const call = calls.get(f.index) ?? { args: '' }
    call.id ??= f.id
    call.name ??= f.function?.name
    call.args += f.function?.arguments ?? ''
    calls.set(f.index, call)
  }
  t.same([...calls.entries()], [
    [0, { id: 'toolu_a', name: 'read_file', args: '{"path":"a.txt"}' }],
    [1, { id: 'toolu_b', name: 'get_weather', args: '{"city":"Paris","days":3}' }],
  ])
  t.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Let me look.')
  t.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason, 'tool_calls')

  // The SDK's stream helper assembles the same calls.
  anthropic.script({ toolUses: [{ id: 'toolu_c', name: 'read_file', input: { path: 'b.txt' } }] })
  const runner = gw.client.chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'go' }], tools: [{ type: 'function', function: { name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } } } } }] })
  const final = await runner.finalChatCompletion()
  t.same(final.choices[0].message.tool_calls?.map((c) => [c.id, c.function.name, c.function.arguments]), [['toolu_c', 'read_file', '{"path":"b.txt"}']])
})

t.test('HTTP 529, 500 and 429 are provider faults: the next tier answers', async (t) => {
  const { gw, anthropic } = await setup(t)
  const faults = [
    anthropicError(529, 'overloaded_error', 'Overloaded'),
    anthropicError(500, 'api_error', 'Internal server error'),
    anthropicError(429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', { 'retry-after': '30' }),
  ]
  for (const fault of faults) {
    anthropic.script(fault)
    const { data, response } = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
    t.equal(data.choices[0].message.content, 'Hello from the backup tier', `HTTP ${fault.fault === 'status' ? fault.status : ''}`)
    t.equal(response.headers.get('x-tiergate-provider'), 'backup')
  }
  const status = await (await fetch(`${gw.url}/providers`)).json()
  const keys = status.providers.find((p: any) => p.name === 'anthropic').keys
  t.equal(keys[0].state, 'cooling_down', 'the 429 cooled the key for its retry-after')
  t.ok(keys[0].availableInMs > 25_000 && keys[0].availableInMs <= 30_000)
  t.match(status.providers.find((p: any) => p.name === 'anthropic').health.lastError.message, /HTTP 429: Number of request tokens/)
})

t.test('an Anthropic 400 is returned at once with its message and type', async (t) => {
  const { gw, anthropic, backup } = await setup(t)
  anthropic.script(anthropicError(400, 'invalid_request_error', 'messages: text content blocks must be non-empty'))
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 400)
  t.equal(res.json.error.code, 'invalid_request_error')
  t.match(res.json.error.message, /anthropic rejected the request: HTTP 400: messages: text content blocks must be non-empty/)
  t.equal(backup.chatRequests().length, 0)
})

t.test('a 401 takes the bad key out and the next key of the pool answers; keys never leak', async (t) => {
  const bad = 'sk-ant-api03-revoked-key-9999'
  const { gw, anthropic } = await setup(t, { ANTHROPIC_API_KEY: `${bad},sk-ant-api03-mock-key-000000`, ANTHROPIC_MODELS: MODEL })
  const first = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
  t.equal(first.choices[0].message.content, 'Hello from Claude')
  t.same(anthropic.messageRequests().map((r) => r.headers['x-api-key']), [bad, anthropic.apiKey], 'the bad key was tried, then the good one')
  const status = await (await fetch(`${gw.url}/providers`)).json()
  const keys = status.providers.find((p: any) => p.name === 'anthropic').keys
  t.same(keys.map((k: any) => k.state), ['disabled', 'available'])
  t.notMatch(JSON.stringify(status), bad)
  t.notOk(gw.logs.some((line) => line.includes(bad) || line.includes(anthropic.apiKey)), 'no key in any log line')
})

t.test('a mid-stream overloaded error before any output falls through invisibly', async (t) => {
  const { gw, anthropic } = await setup(t)
  anthropic.script({ text: 'never seen', errorAfter: 2 }) // message_start, ping, then error
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  const { data, chunks } = await streamText(res)
  t.equal(data.at(-1), '[DONE]')
  t.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'Hello from the backup tier')
})

t.test('a mid-stream error event after output is a stream failure, never a clean end', async (t) => {
  const { gw, anthropic } = await setup(t, { STREAM_RESUME: '0' }) // what reaches the client when nothing resumes
  anthropic.script({ text: 'Hello there, friend!', errorAfter: 5 })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.headers.get('x-tiergate-provider'), 'anthropic')
  const data = await sseData(res)
  t.not(data.at(-1), '[DONE]')
  const last = JSON.parse(data.at(-1)!)
  t.match(last.error.message, /anthropic failed after it had started: error event inside the stream: overloaded_error: Overloaded/)
  t.ok(data.slice(0, -1).some((d) => JSON.parse(d).choices[0]?.delta?.content), 'some text had arrived before the failure')

  anthropic.script({ text: 'Hello there, friend!', errorAfter: 5 })
  const stream = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true })
  await t.rejects(async () => { for await (const _ of stream) { /* drain */ } }, /overloaded_error/)
})

t.test('a stream that ends without message_stop, or is cut, is a failure', async (t) => {
  const { gw, anthropic } = await setup(t, { STREAM_RESUME: '0' })
  for (const step of [{ text: 'Hello there, friend!', omitStop: true }, { text: 'Hello there, friend!', cutAfter: 5 }]) {
    anthropic.script(step)
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
    const data = await sseData(res)
    t.not(data.at(-1), '[DONE]', JSON.stringify(step))
    t.match(JSON.parse(data.at(-1)!).error.code, 'upstream_stream_failed')
  }
  await anthropic.waitForNoSockets()
})

t.test('catalog: discovered from the paginated /v1/models with Anthropic headers, or fixed by ANTHROPIC_MODELS', async (t) => {
  const models = ['claude-opus-4-1', 'claude-sonnet-4-5', 'claude-haiku-4-5']
  const { gw, anthropic } = await setup(t, {}, { models, pageSize: 2 })
  const listed = (await gw.client.models.list()).data.filter((m) => m.owned_by === 'anthropic').map((m) => m.id)
  t.same(listed, models)
  const discovery = anthropic.requests.filter((r) => r.url.startsWith('/v1/models'))
  t.same(discovery.map((r) => r.url), ['/v1/models?limit=1000', '/v1/models?limit=1000&after_id=claude-sonnet-4-5'])
  t.equal(discovery[0].headers['x-api-key'], anthropic.apiKey)
  t.equal(discovery[0].headers['anthropic-version'], '2023-06-01')

  const fixed = await setup(t, { ANTHROPIC_MODELS: 'claude-custom-1' })
  const ids = (await fixed.gw.client.models.list()).data.filter((m) => m.owned_by === 'anthropic').map((m) => m.id)
  t.same(ids, ['claude-custom-1'])
  t.equal(fixed.anthropic.requests.filter((r) => r.url.startsWith('/v1/models')).length, 0, 'no discovery with a fixed catalog')
})

t.test('requests Anthropic cannot take skip it for the next provider', async (t) => {
  const { gw, anthropic } = await setup(t)
  const { data, response } = await gw.client.chat.completions.create({ model: MODEL, n: 2, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.equal(response.headers.get('x-tiergate-provider'), 'backup')
  t.equal(data.choices[0].message.content, 'Hello from the backup tier')
  t.equal(anthropic.messageRequests().length, 0)
})
