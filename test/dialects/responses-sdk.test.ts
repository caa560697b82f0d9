// POST/GET/DELETE /v1/responses through the official openai SDK against OpenAI-compatible
// (Chat Completions) mock upstreams: the translated path. create, stream + finalResponse,
// retrieve, delete, input items, chains, ownership, tool round trips, and fallback that never lies.
import t from 'tap'
import OpenAI from 'openai'
import { startTwoTiers } from '../helpers/two-tiers.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startOpenAIMock } from '../mocks/openai.ts'

const MODEL = 'gpt-4o-mini'

/** The HTTP status an SDK call failed with (undefined when it succeeded). */
const statusOf = (call: Promise<unknown>) => call.then(() => undefined, (err: { status?: number }) => err.status)

t.test('responses.create: a response object with resp_ id, output message, usage and the headers of chat', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const res = await gw.client.responses.create({ model: MODEL, instructions: 'Be brief.', input: 'Say hello', max_output_tokens: 40, metadata: { ticket: '42' } }).withResponse()
  const response = res.data
  t.match(response.id, /^resp_[0-9a-f]{48}$/)
  t.match(response, { object: 'response', status: 'completed', model: MODEL, instructions: 'Be brief.', max_output_tokens: 40, metadata: { ticket: '42' }, error: null })
  t.match(response.output, [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello from mock' }] }])
  t.equal(response.output_text, 'Hello from mock')
  t.same(response.usage, { input_tokens: 13, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 18 })
  t.equal(res.response.headers.get('x-tiergate-provider'), 'first')
  t.equal(res.response.headers.get('x-tiergate-tier'), '1')
  t.equal(res.response.headers.get('x-tiergate-attempts'), '1')
  t.ok(res.response.headers.get('x-request-id'))
  t.same(tier1.chatRequests()[0].body, { model: MODEL, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello' }], max_tokens: 40 })
})

t.test('responses.stream: typed events with sequence numbers; finalResponse; a stored, retrievable, deletable response', async (t) => {
  const { gw } = await startTwoTiers(t)
  const stream = gw.client.responses.stream({ model: MODEL, input: 'Say hello' })
  const events: Array<{ type: string; sequence_number: number }> = []
  for await (const event of stream) events.push(event)
  const final = await stream.finalResponse()
  t.same(events.map((e) => e.type), [
    'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
    'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta',
    'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
  ])
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'sequence_number counts from 0 with no gap')
  t.equal(final.output_text, 'Hello from mock')
  t.equal(final.status, 'completed')
  t.same(final.usage, { input_tokens: 7, input_tokens_details: { cached_tokens: 0 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 11 })

  const retrieved = await gw.client.responses.retrieve(final.id)
  t.equal(retrieved.id, final.id)
  t.equal(retrieved.output_text, 'Hello from mock')
  const replay = await fetch(`${gw.url}/v1/responses/${final.id}?stream=true`)
  t.equal(replay.status, 400, 'no event replay: there are no background responses')
  const items = await gw.client.responses.inputItems.list(final.id)
  t.match(items.data, [{ type: 'message', role: 'user', content: 'Say hello', id: /^msg_/ }])
  await gw.client.responses.delete(final.id)
  t.equal(await statusOf(gw.client.responses.retrieve(final.id)), 404)
  t.equal(await statusOf(gw.client.responses.delete(final.id)), 404)
})

t.test('previous_response_id: the chain is prepended; instructions do not carry over; store:false keeps nothing', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const first = await gw.client.responses.create({ model: MODEL, instructions: 'Old rules.', input: 'My name is Ada.' })
  tier1.script({ content: 'Your name is Ada.' })
  const second = await gw.client.responses.create({ model: MODEL, instructions: 'New rules.', input: 'What is my name?', previous_response_id: first.id })
  t.equal(second.previous_response_id, first.id)
  t.same(tier1.chatRequests()[1].body.messages, [
    { role: 'system', content: 'New rules.' },
    { role: 'user', content: 'My name is Ada.' },
    { role: 'assistant', content: 'Hello from mock' },
    { role: 'user', content: 'What is my name?' },
  ])
  const third = await gw.client.responses.create({ model: MODEL, input: 'And again?', previous_response_id: second.id, store: false })
  t.equal(tier1.chatRequests()[2].body.messages.length, 5, 'a chain of chains')
  t.equal(await statusOf(gw.client.responses.retrieve(third.id)), 404, 'store: false kept nothing')
  const unknown = await postJson(`${gw.url}/v1/responses`, { model: MODEL, input: 'x', previous_response_id: 'resp_nope' })
  t.equal(unknown.status, 400)
  t.same(unknown.json, { error: { message: "Previous response with id 'resp_nope' not found.", type: 'invalid_request_error', param: 'previous_response_id', code: 'previous_response_not_found' } })
})

t.test("another gateway key cannot read, delete or continue a response", async (t) => {
  const { gw } = await startTwoTiers(t, { env: { GATEWAY_API_KEYS: 'key-alpha-1,key-beta-2' }, apiKey: 'key-alpha-1' })
  const response = await gw.client.responses.create({ model: MODEL, input: 'secret plans' })
  const other = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'key-beta-2', maxRetries: 0 })
  t.equal(await statusOf(other.responses.retrieve(response.id)), 404)
  t.equal(await statusOf(other.responses.delete(response.id)), 404)
  t.match(await other.responses.create({ model: MODEL, input: 'x', previous_response_id: response.id }).catch((e) => e), { status: 400, code: 'previous_response_not_found' })
  t.equal((await gw.client.responses.retrieve(response.id)).id, response.id, 'the owner still has it')
})

t.test('tool round trip: function tools out, function_call back, function_call_output in', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const tools = [{ type: 'function' as const, name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true }]
  tier1.script({ toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' }] })
  const first = await gw.client.responses.create({ model: MODEL, input: 'Weather in Paris?', tools, tool_choice: 'auto' })
  t.match(first.output, [{ type: 'function_call', call_id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' }])
  t.same(tier1.chatRequests()[0].body.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: tools[0].parameters, strict: true } }])
  tier1.script({ content: 'It is 18C in Paris.' })
  const second = await gw.client.responses.create({ model: MODEL, previous_response_id: first.id, tools, input: [{ type: 'function_call_output', call_id: 'call_w1', output: '{"temp":18}' }] })
  t.equal(second.output_text, 'It is 18C in Paris.')
  t.same(tier1.chatRequests()[1].body.messages.slice(1), [
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_w1', content: '{"temp":18}' },
  ])
})

t.test('streamed function-call arguments in many fragments arrive whole', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const args = JSON.stringify({ city: 'Paris', days: [1, 2, 3], units: 'metric', note: 'fragmented on purpose' })
  tier1.script({ toolCalls: [{ id: 'call_a', name: 'forecast', arguments: args }, { id: 'call_b', name: 'forecast', arguments: '{"city":"Rome"}' }], argumentPieces: 12 })
  const stream = gw.client.responses.stream({ model: MODEL, input: 'forecasts', tools: [{ type: 'function', name: 'forecast', parameters: { type: 'object' }, strict: false }] })
  const deltas: string[] = []
  stream.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta))
  const final = await stream.finalResponse()
  t.equal(tier1.chatRequests().length, 1, 'one upstream answer, each call in 12 fragments')
  t.equal(deltas.join(''), args + '{"city":"Rome"}', 'the argument deltas add up to the whole calls, in order')
  t.match(final.output, [
    { type: 'function_call', call_id: 'call_a', name: 'forecast', arguments: args },
    { type: 'function_call', call_id: 'call_b', name: 'forecast', arguments: '{"city":"Rome"}' },
  ])
  t.same(JSON.parse((final.output[0] as { arguments: string }).arguments).days, [1, 2, 3])
})

t.test('tier-1 failure before commit is invisible: tier 2 answers, the headers say so', async (t) => {
  const { gw, tier1, tier2 } = await startTwoTiers(t, { env: { RETRY_SAME_PROVIDER: '0' } })
  tier1.script({ fault: 'status', status: 503 }, { cutAfter: 1 })
  const json = await gw.client.responses.create({ model: MODEL, input: 'hi' }).withResponse()
  t.equal(json.data.output_text, 'Hello from tier two')
  t.equal(json.response.headers.get('x-tiergate-provider'), 'second')
  t.equal(json.response.headers.get('x-tiergate-attempts'), '2')
  const stream = gw.client.responses.stream({ model: MODEL, input: 'hi' })
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  t.equal((await stream.finalResponse()).output_text, 'Hello from tier two')
  t.equal(types.filter((type) => type === 'response.created').length, 1, 'one response, no trace of the failed attempt')
  t.equal(tier2.chatRequests().length, 2)
})

t.test('failure after commit: response.failed with the error, nothing after it, nothing stored', async (t) => {
  const upstream = await startOpenAIMock({ models: [MODEL] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'only', ONLY_BASE_URL: upstream.baseUrl, RETRY_SAME_PROVIDER: '0', BREAKER_VOLUME_THRESHOLD: '100' })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  // Every attempt is cut, a resume's too: nothing can continue the answer.
  upstream.fallback = { content: 'Hello there, friend', pieces: 5, cutAfter: 3 }
  const res = await fetch(`${gw.url}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, input: 'hi', stream: true }) })
  t.equal(res.status, 200)
  const text = await res.text()
  const events = text.split('\n\n').filter((e) => e.startsWith('event: ')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)))
  const last = events.at(-1)
  t.equal(last.type, 'response.failed', 'the stream ends with response.failed')
  t.match(last.response, { status: 'failed', error: { code: 'server_error', message: /only failed after it had started/ } })
  t.notOk(events.some((e) => e.type === 'response.completed'), 'never a clean-looking end')
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i))
  t.ok(text.trimEnd().endsWith('}'), 'nothing after response.failed')
  t.equal(await statusOf(gw.client.responses.retrieve(last.response.id)), 404, 'a failed response is not stored')
  // The SDK sees the same: its stream ends on response.failed, with no completed response.
  const stream = gw.client.responses.stream({ model: MODEL, input: 'hi' })
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  t.equal(types.at(-1), 'response.failed')
})

t.test('all providers failed: 503 all_providers_failed in the OpenAI envelope, naming each attempt', async (t) => {
  const { gw, tier1, tier2 } = await startTwoTiers(t, { env: { RETRY_SAME_PROVIDER: '0' } })
  tier1.script({ fault: 'status', status: 500 })
  tier2.script({ fault: 'status', status: 502 })
  const res = await postJson(`${gw.url}/v1/responses`, { model: MODEL, input: 'hi', stream: true })
  t.equal(res.status, 503)
  t.match(res.json, { error: { type: 'service_unavailable', code: 'all_providers_failed', message: /first \(tier 1\).*second \(tier 2\)/ } })
  t.ok(res.headers.get('x-request-id'))
  t.match(await gw.client.responses.create({ model: 'no-such-model', input: 'x' }).catch((e) => e), { status: 404, code: 'model_not_found' })
  const bad = await postJson(`${gw.url}/v1/responses`, { input: 'no model' })
  t.equal(bad.status, 400)
  t.match(bad.json, { error: { type: 'invalid_request_error', param: 'model' } })
})

t.test('a built-in tool on a translated provider is a 400 naming the tool; nothing goes upstream', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const err = await gw.client.responses.create({ model: MODEL, input: 'news?', tools: [{ type: 'web_search' }] }).catch((e) => e)
  t.equal(err.status, 400)
  t.match(err.message, /`web_search`.*only OpenAI's own Responses API/)
  t.equal(err.param, 'tools')
  t.equal(tier1.chatRequests().length, 0)
})
