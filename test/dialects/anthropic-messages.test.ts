// POST /v1/messages driven by the official Anthropic SDK against OpenAI-shaped and Ollama
// upstreams (translated): messages.create, messages.stream() + finalMessage(), a tool-use
// round trip with argument JSON in many fragments, pings after commit, sessions, and
// invisible fallback before commit.
import t, { type Test } from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startOllamaMock } from '../mocks/ollama.ts'
import { startMockServer } from '../mocks/server.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

const MODEL = 'claude-haiku-4-5'

const anthropicClient = (gw: Gateway, apiKey = 'unused') => new Anthropic({ baseURL: gw.url, apiKey, maxRetries: 0, timeout: 20_000 })

async function overOpenAI(t: Test, env: Record<string, string> = {}) {
  const upstream = await startOpenAIMock({ models: [MODEL] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: upstream.baseUrl, PROVIDER_PRIORITY_FIRST: '1', ...env })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  return { upstream, gw, client: anthropicClient(gw) }
}

/** Raw SSE events of a response, in order. */
async function sseEvents(res: Response) {
  const text = await res.text()
  return { text, events: text.split('\n\n').filter((f) => f.startsWith('event: ')).map((f) => ({ type: /^event: (.*)$/m.exec(f)![1], data: JSON.parse(/^data: (.*)$/m.exec(f)![1]) })) }
}

const postMessages = (gw: Gateway, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body: JSON.stringify(body) })

t.test('messages.create over an OpenAI-compatible provider: the request translated, the answer a Messages message', async (t) => {
  const { upstream, gw, client } = await overOpenAI(t)
  upstream.script({ content: 'A breaker stops calls for a while.' })
  const { data, response } = await client.messages.create({
    model: MODEL,
    max_tokens: 300,
    system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
    messages: [{ role: 'user', content: 'What is a circuit breaker?' }],
    stop_sequences: ['END'],
    temperature: 0.5,
    top_p: 0.8,
    metadata: { user_id: 'user-7' },
  } as Anthropic.MessageCreateParamsNonStreaming).withResponse() // this SDK's types no longer list temperature/top_p; the API takes them
  t.equal(data.type, 'message')
  t.equal(data.role, 'assistant')
  t.same(data.content, [{ type: 'text', text: 'A breaker stops calls for a while.' }])
  t.equal(data.stop_reason, 'end_turn')
  t.equal(data.stop_sequence, null)
  t.same(data.usage, { input_tokens: 13, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 })
  t.ok(data.id.startsWith('msg_'))
  t.equal(response.headers.get('x-tiergate-provider'), 'first')
  t.equal(response.headers.get('x-tiergate-tier'), '1')
  t.equal(response.headers.get('x-tiergate-attempts'), '1')
  t.ok(response.headers.get('request-id'), 'a request-id header, as Anthropic sends')

  t.same(upstream.chatRequests()[0].body, {
    model: MODEL,
    messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is a circuit breaker?' }],
    max_tokens: 300, temperature: 0.5, top_p: 0.8, stop: ['END'], user: 'user-7',
  })
})

t.test('finish reasons become stop reasons; cached prompt tokens are reported as cache reads', async (t) => {
  const { upstream, client } = await overOpenAI(t)
  for (const [finishReason, stop] of [['length', 'max_tokens'], ['content_filter', 'refusal'], ['stop', 'end_turn']]) {
    upstream.script({ content: 'x', finishReason })
    const message = await client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] })
    t.equal(message.stop_reason, stop, `${finishReason} → ${stop}`)
  }
  // An OpenAI answer with prompt caching (a 200 with a body of our own: the mock's usage is fixed).
  const body = {
    id: 'chatcmpl-cached', object: 'chat.completion', created: 1, model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: 'cached', refusal: null }, logprobs: null, finish_reason: 'stop', stop_reason: 'END' }],
    usage: { prompt_tokens: 2100, completion_tokens: 9, total_tokens: 2109, prompt_tokens_details: { cached_tokens: 2048 } },
  }
  upstream.script({ fault: 'status', status: 200, body }, { fault: 'status', status: 200, body })
  const cached = await client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'a' }] })
  t.same(cached.usage, { input_tokens: 52, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 2048 })
  t.equal(cached.stop_reason, 'end_turn', "vLLM's stop_reason names a sequence the client did not ask for: end_turn")
  const stopped = await client.messages.create({ model: MODEL, max_tokens: 5, stop_sequences: ['END'], messages: [{ role: 'user', content: 'a' }] })
  t.equal(stopped.stop_reason, 'stop_sequence')
  t.equal(stopped.stop_sequence, 'END')
})

t.test('messages.stream() with finalMessage(): the event sequence the SDK assembles; usage in message_delta', async (t) => {
  const { upstream, gw, client } = await overOpenAI(t)
  upstream.script({ reasoning: 'Greeting back.', reasoningField: 'reasoning_content', content: 'Hello there, friend!', pieces: 4 })
  const stream = client.messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], thinking: { type: 'enabled', budget_tokens: 2048 } })
  let text = ''
  stream.on('text', (delta) => { text += delta })
  const final = await stream.finalMessage()
  t.equal(text, 'Hello there, friend!')
  t.same(final.content, [{ type: 'thinking', thinking: 'Greeting back.', signature: '' }, { type: 'text', text: 'Hello there, friend!' }])
  t.equal(final.stop_reason, 'end_turn')
  t.same(final.usage, { input_tokens: 7, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }, 'the upstream usage, asked for with include_usage')
  const sent = upstream.chatRequests()[0].body
  t.equal(sent.reasoning_effort, 'low', 'thinking budget 2048 → reasoning_effort low')
  t.same(sent.stream_options, { include_usage: true })

  const res = await postMessages(gw, { model: MODEL, max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  t.equal(res.headers.get('x-tiergate-provider'), 'first')
  const { events } = await sseEvents(res)
  t.same(events.map((e) => e.type), ['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'])
})

/** An OpenAI-compatible upstream that streams one tool call with its arguments one character per chunk. */
async function fragmentingUpstream(t: Test, args: string, env: Record<string, string> = {}) {
  const base = { id: 'chatcmpl-frag', object: 'chat.completion.chunk', created: 1, model: MODEL }
  const frame = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
  const upstream = await startMockServer(async (req, res, recorded) => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', created: 0, owned_by: 'x' }] }))
    }
    const lastIsTool = recorded.body.messages.at(-1).role === 'tool'
    if (!recorded.body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' })
      const message = lastIsTool ? { role: 'assistant', content: 'It is sunny in Paris.' } : { role: 'assistant', content: null, tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: args } }] }
      return void res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: lastIsTool ? 'stop' : 'tool_calls' }], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } }))
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    if (lastIsTool) {
      res.write(frame({ role: 'assistant', content: '' }))
      res.write(frame({ content: 'It is sunny in Paris.' }))
      res.write(frame({}, 'stop'))
    } else {
      res.write(frame({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }))
      for (const ch of args) res.write(frame({ tool_calls: [{ index: 0, function: { arguments: ch } }] }))
      res.write(frame({}, 'tool_calls'))
    }
    res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } })}\n\n`)
    res.end('data: [DONE]\n\n')
  })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: `${upstream.origin}/v1`, ...env })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  return { upstream, gw }
}

t.test('tool use round trip: arguments streamed in many fragments arrive whole; the tool_result goes back as a tool message', async (t) => {
  const args = JSON.stringify({ city: 'Paris', units: 'celsius', days: [1, 2, 3] })
  const { upstream, gw } = await fragmentingUpstream(t, args)
  const client = anthropicClient(gw)
  const tools = [{ name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }]
  const question = { role: 'user' as const, content: 'Weather in Paris?' }
  const stream = client.messages.stream({ model: MODEL, max_tokens: 200, tools, tool_choice: { type: 'auto' }, messages: [question] })
  const jsonDeltas: string[] = []
  stream.on('inputJson', (partial) => { jsonDeltas.push(partial) })
  const first = await stream.finalMessage()
  // The router may hold a call's fragments until it is whole (resume safety): at least one delta, and the sum is the call.
  t.ok(jsonDeltas.length >= 1, `${jsonDeltas.length} input_json_delta event(s) for ${args.length} upstream fragments`)
  t.equal(first.stop_reason, 'tool_use')
  const toolUse = first.content.find((b) => b.type === 'tool_use')
  t.same(toolUse, { type: 'tool_use', id: 'call_w1', name: 'get_weather', input: { city: 'Paris', units: 'celsius', days: [1, 2, 3] } })

  const second = await client.messages.create({
    model: MODEL, max_tokens: 200, tools,
    messages: [question, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_w1', content: '21°C, sunny' }] }],
  })
  t.same(second.content, [{ type: 'text', text: 'It is sunny in Paris.' }])
  const sent = upstream.requests.filter((r) => r.method === 'POST').at(-1)!.body
  t.same(sent.messages.slice(1), [
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: args } }] },
    { role: 'tool', tool_call_id: 'call_w1', content: '21°C, sunny' },
  ])
  t.same(sent.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: tools[0].input_schema } }])
  t.equal(upstream.requests.filter((r) => r.method === 'POST')[0].body.tool_choice, 'auto')
})

t.test('with STREAM_TOOL_CALLS=live every upstream fragment is its own input_json_delta', async (t) => {
  const args = JSON.stringify({ city: 'Paris', units: 'celsius' })
  const { gw } = await fragmentingUpstream(t, args, { STREAM_TOOL_CALLS: 'live' })
  const stream = anthropicClient(gw).messages.stream({ model: MODEL, max_tokens: 200, tools: [{ name: 'get_weather', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'Weather?' }] })
  const jsonDeltas: string[] = []
  stream.on('inputJson', (partial) => { jsonDeltas.push(partial) })
  const final = await stream.finalMessage()
  t.same(jsonDeltas, [...args], 'one delta per upstream fragment, in order')
  t.same((final.content[0] as Anthropic.ToolUseBlock).input, { city: 'Paris', units: 'celsius' })
})

t.test('tool_choice any with disable_parallel_tool_use; a non-stream tool call has its input parsed', async (t) => {
  const { upstream, client } = await overOpenAI(t)
  upstream.script({ toolCalls: [{ id: 'call_9', name: 'read_file', arguments: '{"path":"/etc/hosts"}' }] })
  const message = await client.messages.create({
    model: MODEL, max_tokens: 50,
    tools: [{ name: 'read_file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    messages: [{ role: 'user', content: 'read it' }],
  })
  t.same(message.content, [{ type: 'tool_use', id: 'call_9', name: 'read_file', input: { path: '/etc/hosts' } }])
  t.equal(message.stop_reason, 'tool_use')
  const sent = upstream.chatRequests()[0].body
  t.equal(sent.tool_choice, 'required')
  t.equal(sent.parallel_tool_calls, false)
})

t.test('over Ollama (native NDJSON): create and stream, with a tool call whose id Ollama leaves out', async (t) => {
  const ollama = await startOllamaMock({ models: ['llama3.2'] })
  const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_HOST: ollama.origin.replace('http://', ''), OLLAMA_REMOTE_BASE_URL: '' })
  t.teardown(async () => { await gw.close(); await ollama.close() })
  const client = anthropicClient(gw)
  ollama.script({ content: 'Hello from llama' })
  const message = await client.messages.create({ model: 'llama3.2', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
  t.same(message.content, [{ type: 'text', text: 'Hello from llama' }])
  t.equal(message.stop_reason, 'end_turn')

  ollama.script({ toolCalls: [{ name: 'read_file', arguments: { path: 'a.txt' } }] })
  const final = await client.messages.stream({ model: 'llama3.2', max_tokens: 20, tools: [{ name: 'read_file', input_schema: { type: 'object' } }], messages: [{ role: 'user', content: 'read' }] }).finalMessage()
  const toolUse = final.content.find((b) => b.type === 'tool_use') as Anthropic.ToolUseBlock
  t.equal(toolUse.name, 'read_file')
  t.same(toolUse.input, { path: 'a.txt' })
  t.ok(toolUse.id.length > 0, `a tool_use id is always given (${toolUse.id})`)
  t.equal(final.stop_reason, 'tool_use')
})

t.test('a tier-1 failure before commit is invisible: the next tier answers the Anthropic client', async (t) => {
  const tier1 = await startOpenAIMock({ models: [MODEL] })
  const tier2 = await startOpenAIMock({ models: [MODEL] })
  tier2.fallback = { content: 'Hello from tier two' }
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first,second', FIRST_BASE_URL: tier1.baseUrl, PROVIDER_PRIORITY_FIRST: '1', SECOND_BASE_URL: tier2.baseUrl, PROVIDER_PRIORITY_SECOND: '2' })
  t.teardown(async () => { await gw.close(); await tier1.close(); await tier2.close() })
  const client = anthropicClient(gw)
  tier1.script({ fault: 'status', status: 503 })
  const { data, response } = await client.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.same(data.content, [{ type: 'text', text: 'Hello from tier two' }])
  t.equal(response.headers.get('x-tiergate-provider'), 'second')
  t.equal(tier1.chatRequests().length, 1, 'tier 1 was tried first')

  tier1.script({ content: 'never seen', cutAfter: 1 }) // only the role chunk, then the socket dies: nothing committed
  const res = await postMessages(gw, { model: MODEL, max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.headers.get('x-tiergate-provider'), 'second', 'the headers name the provider that answered')
  const { events } = await sseEvents(res)
  t.equal(events.filter((e) => e.type === 'message_start').length, 1)
  t.equal(events.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text).join(''), 'Hello from tier two')
  t.equal(events.at(-1)!.type, 'message_stop')
})

t.test('a failure after commit that nothing resumes: event: error, no message_stop; the SDK rejects', async (t) => {
  const { upstream, gw, client } = await overOpenAI(t, { STREAM_RESUME: '0' })
  upstream.script({ content: 'Hello there, friend!', pieces: 4, errorAfter: 3 })
  const res = await postMessages(gw, { model: MODEL, max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hi' }] })
  const { events } = await sseEvents(res)
  t.equal(events.at(-1)!.type, 'error')
  t.same(Object.keys(events.at(-1)!.data), ['type', 'error'])
  t.equal(events.at(-1)!.data.error.type, 'api_error')
  t.notOk(events.some((e) => e.type === 'message_stop' || e.type === 'message_delta'), 'nothing that looks like a clean end')
  t.ok(events.some((e) => e.data.delta?.type === 'text_delta'), 'text had arrived before')

  upstream.script({ content: 'Hello there, friend!', pieces: 4, errorAfter: 3 })
  await t.rejects(client.messages.stream({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }).finalMessage(), /api_error|failed after it had started/)
})

t.test('pings during long silences after commit, never before the first event', async (t) => {
  const { upstream, gw } = await overOpenAI(t, { MESSAGES_PING_INTERVAL_MS: '20' })
  upstream.script({ content: 'slow answer', pieces: 2, gapMs: 150, thinkMs: 150 })
  const res = await postMessages(gw, { model: MODEL, max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hi' }] })
  const { text, events } = await sseEvents(res)
  t.equal(events[0].type, 'message_start', 'the body starts with message_start: no ping while the upstream was thinking')
  const pings = events.map((e, i) => [e.type, i] as const).filter(([type]) => type === 'ping')
  t.ok(pings.length > 0, `${pings.length} pings during the gaps`)
  t.ok(text.includes('event: ping\ndata: {"type": "ping"}\n\n'), 'Anthropic\'s own ping bytes')
  t.equal(events.at(-1)!.type, 'message_stop')
})

t.test('an x-session-id header continues a server-side session for an Anthropic client', async (t) => {
  const { upstream, client } = await overOpenAI(t)
  upstream.script({ content: 'Nice to meet you, Ada.' }, { content: 'Your name is Ada.' })
  const headers = { 'x-session-id': 'anthropic-session-1' }
  await client.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'I am Ada.' }] }, { headers })
  const second = await client.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'Who am I?' }] }, { headers })
  t.same(second.content, [{ type: 'text', text: 'Your name is Ada.' }])
  t.same(upstream.chatRequests()[1].body.messages, [
    { role: 'user', content: 'I am Ada.' },
    { role: 'assistant', content: 'Nice to meet you, Ada.' },
    { role: 'user', content: 'Who am I?' },
  ])
})
