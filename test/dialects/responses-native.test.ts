// Native passthrough: when the `openai` provider serves /v1/responses, the client's own body
// goes to its /v1/responses (model replaced) and its bytes come back untouched — fields
// tiergate does not model survive both ways. Fallback to a Chat Completions provider translates,
// and a previous_response_id chain crosses between the two in both directions.
import t, { type Test } from 'tap'
import { startOpenAIResponsesMock } from '../mocks/openai-responses.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const MODEL = 'gpt-4o-mini'
const OPENAI_KEY = 'sk-proj-native-test-key-0001'

async function setup(t: Test, env: Record<string, string> = {}) {
  const native = await startOpenAIResponsesMock()
  const backup = await startOpenAIMock({ models: [MODEL] })
  backup.fallback = { content: 'Hello from the backup tier' }
  const gw = await startGateway({
    OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: native.baseUrl, OPENAI_MODELS: MODEL, PROVIDER_PRIORITY_OPENAI: '1',
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '2',
    RETRY_SAME_PROVIDER: '0',
    ...env,
  })
  t.teardown(async () => { await gw.close(); await native.close(); await backup.close() })
  return { gw, native, backup }
}

const post = (url: string, body: unknown) => fetch(`${url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

t.test('stream: the upstream events reach the client byte for byte (unknown fields included), and the SDK reads them', async (t) => {
  const { gw, native } = await setup(t)
  native.script({ content: 'Native hello, streamed', reasoning: 'Thinking natively', pieces: 4 })
  const res = await post(gw.url, { model: MODEL, input: 'hi', stream: true })
  t.equal(res.headers.get('x-tiergate-provider'), 'openai')
  const text = await res.text()
  t.equal(text, native.lastBody(), 'every byte as the upstream sent it')
  t.match(text, /"obfuscation":"x3"/, 'a field tiergate does not model is there')
  t.match(text, /"mock_extension":\{"kept":true\}/)

  native.script({ content: 'Native hello, streamed', reasoning: 'Thinking natively' })
  const stream = gw.client.responses.stream({ model: MODEL, input: 'hi' })
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  const final = await stream.finalResponse()
  t.equal(final.output_text, 'Native hello, streamed')
  t.match(final.id, /^resp_0+2$/, "the upstream's own response id")
  t.ok(types.includes('response.reasoning_summary_text.delta'))
  t.match(final.usage, { input_tokens: 21, input_tokens_details: { cached_tokens: 8 }, output_tokens_details: { reasoning_tokens: 2 } })
  t.equal((await gw.client.responses.retrieve(final.id)).output_text, 'Native hello, streamed', 'stored under the upstream id')
})

t.test('JSON: the client body goes upstream as it is (model replaced), the answer comes back byte for byte', async (t) => {
  const { gw, native } = await setup(t, { MODEL_ALIASES: `smart=openai/${MODEL}` })
  const body = { model: 'smart', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], include: ['reasoning.encrypted_content'], prompt_cache_key: 'pk-1', a_future_field: { nested: [1, 2] }, metadata: { m: '1' } }
  const res = await postJson(`${gw.url}/v1/responses`, body)
  t.equal(res.status, 200)
  t.equal(res.text, native.lastBody(), 'the body as the upstream sent it')
  t.match(res.headers.get('content-type'), /application\/json/)
  const upstream = native.responseRequests()[0]
  t.same(upstream.body, { ...body, model: MODEL }, 'every client field, unknown ones included; the alias resolved')
  t.equal(upstream.headers.authorization, `Bearer ${OPENAI_KEY}`)
})

t.test('a built-in tool goes to OpenAI natively (pinned there: no other provider could run it)', async (t) => {
  const { gw, native, backup } = await setup(t)
  const tools = [{ type: 'web_search' as const }]
  const response = await gw.client.responses.create({ model: MODEL, input: 'news?', tools })
  t.equal(response.output_text, 'Hello from native')
  t.same(native.responseRequests()[0].body.tools, tools)
  native.script({ fault: 'status', status: 503 })
  const err = await gw.client.responses.create({ model: MODEL, input: 'news?', tools }).catch((e) => e)
  t.equal(err.status, 503, 'OpenAI down: no translated provider silently drops the tool')
  t.equal(backup.chatRequests().length, 0)
})

t.test('fallback translates: the native upstream fails before commit, the Chat provider answers unseen', async (t) => {
  const { gw, native, backup } = await setup(t)
  native.script({ failAfter: 2 }) // response.created, response.in_progress, then response.failed
  const stream = gw.client.responses.stream({ model: MODEL, input: 'hi' })
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  const final = await stream.finalResponse()
  t.equal(final.output_text, 'Hello from the backup tier')
  t.equal(types.filter((type) => type === 'response.created').length, 1, "nothing of the failed native attempt shows")
  t.same(backup.chatRequests()[0].body.messages, [{ role: 'user', content: 'hi' }])
  native.script({ fault: 'status', status: 500 })
  const json = await gw.client.responses.create({ model: MODEL, input: 'hi' }).withResponse()
  t.equal(json.data.output_text, 'Hello from the backup tier')
  t.equal(json.response.headers.get('x-tiergate-provider'), 'backup')
})

t.test('a chain crosses providers: native first turn, translated second (after the native one fails), native third', async (t) => {
  const { gw, native, backup } = await setup(t)
  native.script({ content: 'Noted: your name is Ada.' })
  const first = await gw.client.responses.create({ model: MODEL, input: 'My name is Ada.' })
  native.script({ fault: 'status', status: 503 })
  backup.script({ content: 'Your name is Ada.' })
  const second = await gw.client.responses.create({ model: MODEL, input: 'What is my name?', previous_response_id: first.id }).withResponse()
  t.equal(second.response.headers.get('x-tiergate-provider'), 'backup')
  t.equal(second.data.output_text, 'Your name is Ada.')
  t.same(backup.chatRequests()[0].body.messages, [
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: 'Noted: your name is Ada.' },
    { role: 'user', content: 'What is my name?' },
  ])
  const third = await gw.client.responses.create({ model: MODEL, input: 'Spell it.', previous_response_id: second.data.id })
  t.equal(third.output_text, 'Hello from native')
  const upstream = native.responseRequests().at(-1)!.body
  t.equal(upstream.previous_response_id, undefined, 'the gateway resolved the chain; the upstream never sees our ids')
  t.same(upstream.input, [
    { type: 'message', role: 'user', content: 'My name is Ada.' },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Noted: your name is Ada.' }] },
    { type: 'message', role: 'user', content: 'What is my name?' },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Your name is Ada.' }] },
    { type: 'message', role: 'user', content: 'Spell it.' },
  ])
})

t.test('native failure after commit with nothing to continue on: response.failed, nothing after it', async (t) => {
  const { gw, native } = await setup(t, { PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations,backup', BREAKER_VOLUME_THRESHOLD: '100' })
  native.fallback = { content: 'This answer will be cut short', pieces: 6, failAfter: 6 }
  const res = await post(gw.url, { model: MODEL, input: 'hi', stream: true })
  const text = await res.text()
  const events = text.split('\n\n').filter(Boolean).filter((e) => e.startsWith('event: ')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)))
  t.equal(events[0].type, 'response.created')
  t.equal(events.at(-1).type, 'response.failed')
  t.equal(events.filter((e) => e.type === 'response.failed').length, 1)
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'the failure continues the upstream sequence')
  t.equal(events.at(-1).response.id, events[0].response.id, 'the same response id the client saw created')
  t.match(events.at(-1).response.error, { code: 'server_error', message: /failed after it had started/ })
  t.match(events.at(-1).response.output, [{ type: 'message', id: events.find((e) => e.type === 'response.output_item.added').item.id, status: 'incomplete' }], 'what was cut is marked incomplete')
})

t.test('a native stream cut mid-answer and resumed on a translated provider reads as one answer', async (t) => {
  const { gw, native, backup } = await setup(t)
  backup.fallback = { content: 'r cut short, then resumed.' }
  native.script({ content: 'This answer will be cut short', pieces: 6, failAfter: 6 })
  const res = await post(gw.url, { model: MODEL, input: 'hi', stream: true })
  const text = await res.text()
  const events = text.split('\n\n').filter((e) => e.startsWith('event: ')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)))
  t.equal(backup.chatRequests().length, 1, 'the router resumed on the next tier')
  t.match(text, /\n: tiergate: resumed on backup/, "the router's note, as an SSE comment")
  t.equal(events.filter((e) => e.type === 'response.created').length, 1)
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'one sequence across both legs')
  const completed = events.at(-1)
  t.equal(completed.type, 'response.completed')
  const messages = completed.response.output.filter((o: { type: string }) => o.type === 'message')
  t.equal(messages.length, 1, 'the continuation goes on in the native message item')
  t.equal(messages[0].status, 'completed')
  const deltas = events.filter((e) => e.type === 'response.output_text.delta')
  t.equal(messages[0].content[0].text, deltas.map((e) => e.delta).join(''), 'the final text is what the deltas said')
  t.ok(deltas.every((e) => e.item_id === messages[0].id && e.output_index === 0), 'every delta names the same item')
})

t.test('a streamed native function call: byte for byte whether calls stream live or the router holds them', async (t) => {
  const live = await setup(t, { STREAM_TOOL_CALLS: 'live' })
  const tools = [{ type: 'function', name: 'forecast', parameters: { type: 'object' } }]
  const args = '{"city":"Paris","days":[1,2,3],"units":"metric"}'
  live.native.script({ toolCalls: [{ callId: 'call_n1', name: 'forecast', arguments: args }], pieces: 8 })
  const text = await (await post(live.gw.url, { model: MODEL, input: 'forecast', stream: true, tools })).text()
  t.equal(text, live.native.lastBody(), 'STREAM_TOOL_CALLS=live: every byte as the upstream sent it')

  // STREAM_TOOL_CALLS=held (the default): the router holds the call's native chunks until the
  // call is complete and releases them unchanged (plugins/router/resume/answer.ts): the same bytes.
  const held = await setup(t)
  held.native.script({ toolCalls: [{ callId: 'call_n3', name: 'forecast', arguments: args }], pieces: 8 })
  const heldText = await (await post(held.gw.url, { model: MODEL, input: 'forecast', stream: true, tools })).text()
  t.equal(heldText, held.native.lastBody(), 'STREAM_TOOL_CALLS=held: every byte as the upstream sent it too')
  held.native.script({ toolCalls: [{ callId: 'call_n2', name: 'forecast', arguments: args }], pieces: 8 })
  const stream = held.gw.client.responses.stream({ model: MODEL, input: 'forecast', tools: [{ type: 'function', name: 'forecast', parameters: { type: 'object' }, strict: false }] })
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  const final = await stream.finalResponse()
  t.match(final.output, [{ type: 'function_call', call_id: 'call_n2', name: 'forecast', arguments: args }])
  t.equal(types[0], 'response.created')
  t.equal(types.at(-1), 'response.completed')
})
