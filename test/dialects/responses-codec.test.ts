// The Responses codecs without a network: request decode, response encode, the stream
// encoder's event sequence, the native event reader, chains and the memory store's bounds.
import t from 'tap'
import { NATIVE_WIRE, type ChatChunk } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import { builtInTools, decodeRequest, itemsToMessages, paramOf } from '../../dialects/openai-responses/request.ts'
import { statusFor, toResponseObject, toResponsesUsage } from '../../dialects/openai-responses/response.ts'
import { ResponsesStreamEncoder, sseEvent, textDeltaEvent } from '../../dialects/openai-responses/stream.ts'
import { NativeEventReader, responseToCompletion } from '../../dialects/openai-responses/upstream.ts'
import { chainAfter, nativeBody } from '../../dialects/openai-responses/chain.ts'
import { MemoryResponsesStore } from '../../plugins/responses-store/memory.ts'
import type { ResponsesRequest } from '../../dialects/openai-responses/types.ts'

const frame = (body: Partial<ResponsesRequest> = {}) => ({ id: 'resp_test', createdAt: 1700000000, body: { model: 'm', ...body } as ResponsesRequest })

t.test('decodeRequest: each Responses field becomes its Chat Completions counterpart', async (t) => {
  const cases: Array<[string, Partial<ResponsesRequest>, Record<string, unknown>]> = [
    ['string input', { input: 'hi' }, { messages: [{ role: 'user', content: 'hi' }] }],
    ['instructions first', { instructions: 'be brief', input: 'hi' }, { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] }],
    ['input_text + input_image parts', { input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'what is this?' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' }] }] },
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] }] }],
    ['assistant output_text', { input: [{ role: 'assistant', content: [{ type: 'output_text', text: 'earlier' }] }, { role: 'user', content: 'next' }] },
      { messages: [{ role: 'assistant', content: 'earlier' }, { role: 'user', content: 'next' }] }],
    ['max_output_tokens, temperature, top_p, reasoning.effort', { input: 'x', max_output_tokens: 50, temperature: 0.3, top_p: 0.9, reasoning: { effort: 'high' } },
      { max_tokens: 50, temperature: 0.3, top_p: 0.9, reasoning_effort: 'high' }],
    ['function tools are nested, tool_choice by name, parallel_tool_calls', {
      input: 'x', tools: [{ type: 'function', name: 'get_weather', description: 'Weather', parameters: { type: 'object' }, strict: true }],
      tool_choice: { type: 'function', name: 'get_weather' }, parallel_tool_calls: false,
    }, {
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object' }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false,
    }],
    ['text.format json_schema → response_format', { input: 'x', text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } } },
      { response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } } }],
    ['text.format json_object', { input: 'x', text: { format: { type: 'json_object' } } }, { response_format: { type: 'json_object' } }],
    ['stream asks for usage', { input: 'x', stream: true }, { stream: true, stream_options: { include_usage: true } }],
  ]
  for (const [name, body, expected] of cases) {
    const { request, untranslatable } = decodeRequest({ model: 'm', ...body } as ResponsesRequest, [])
    t.match(request, expected, name)
    t.equal(untranslatable, undefined, `${name}: translates`)
  }
  const plain = decodeRequest({ model: 'm', input: 'x', metadata: { a: 'b' }, store: false, previous_response_id: 'resp_1', truncation: 'auto' } as ResponsesRequest, []).request
  t.same(Object.keys(plain).sort(), ['messages', 'model'], "the gateway's own fields and server-side features stay out")
})

t.test('function_call items join the assistant turn; outputs become tool messages; reasoning stays out', async (t) => {
  t.same(itemsToMessages([
    { role: 'user', content: 'weather in Paris and Rome?' },
    { type: 'reasoning', id: 'rs_1', summary: [] },
    { type: 'function_call', call_id: 'call_1', name: 'w', arguments: '{"city":"Paris"}' },
    { type: 'function_call', call_id: 'call_2', name: 'w', arguments: '{"city":"Rome"}' },
    { type: 'function_call_output', call_id: 'call_1', output: '18C' },
    { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: '21C' }] },
  ]), [
    { role: 'user', content: 'weather in Paris and Rome?' },
    { role: 'assistant', content: null, tool_calls: [
      { id: 'call_1', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } },
      { id: 'call_2', type: 'function', function: { name: 'w', arguments: '{"city":"Rome"}' } },
    ] },
    { role: 'tool', tool_call_id: 'call_1', content: '18C' },
    { role: 'tool', tool_call_id: 'call_2', content: '21C' },
  ])
})

t.test('an assistant turn of several items (a call, then text) is one assistant message before its tool results', async (t) => {
  t.same(itemsToMessages([
    { role: 'user', content: 'go' },
    { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Calling f.' }] },
    { type: 'function_call_output', call_id: 'c1', output: 'ok' },
  ]), [
    { role: 'user', content: 'go' },
    { role: 'assistant', content: 'Calling f.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'ok' },
  ])
})

t.test('a call or output without its call_id (or name) is invalid input naming the field', async (t) => {
  const failure = (input: unknown[]) => { try { decodeRequest({ model: 'm', input } as ResponsesRequest, []) } catch (err) { return err } }
  t.match(failure([{ type: 'function_call_output', output: 'x' }]), { param: 'input[0].call_id' })
  t.match(failure([{ role: 'user', content: 'x' }, { type: 'function_call', call_id: 'c', arguments: '{}' }]), { param: 'input[1].name', message: "Missing required parameter: 'input[1].name'." })
})

t.test('what only OpenAI can serve is reported, naming it', async (t) => {
  const cases: Array<[Partial<ResponsesRequest>, RegExp]> = [
    [{ tools: [{ type: 'web_search' }] }, /built-in tool `web_search`/],
    [{ tools: [{ type: 'function', name: 'f' }, { type: 'file_search', vector_store_ids: ['vs_1'] }] }, /`file_search`/],
    [{ tools: [{ type: 'code_interpreter' }] }, /`code_interpreter`/],
    [{ tool_choice: { type: 'computer_use_preview' } }, /`computer_use_preview`/],
    [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }] }, /`input_file` content part/],
    [{ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }, /file_id/],
    [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, /item_reference/],
    [{ background: true }, /background/],
    [{ conversation: 'conv_1' }, /conversation/],
    [{ prompt: { id: 'pmpt_1' } }, /prompt/],
    [{ text: { format: { type: 'grammar' } } }, /text format `grammar`/],
  ]
  for (const [body, reason] of cases) t.match(decodeRequest({ model: 'm', input: 'x', ...body } as ResponsesRequest, []).untranslatable, reason)
  t.same(['the built-in tool `web_search`', '`background: true`', 'the text format `grammar`', 'a `input_file` content part'].map(paramOf), ['tools', 'background', 'text.format', 'input'])
  t.same(builtInTools({ tools: [{ type: 'function', name: 'f' } as never] }), [])
})

t.test('toResponseObject: message, reasoning, tool calls, usage with cached and reasoning tokens, status', async (t) => {
  const response = toResponseObject({
    id: 'c', object: 'chat.completion', created: 1, model: 'served-model',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Let me check.', reasoning_content: 'think', tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'w', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } },
  }, frame({ instructions: 'i', metadata: { k: 'v' }, store: false }), 1700000001)
  t.match(response, { id: 'resp_test', object: 'response', status: 'completed', completed_at: 1700000001, model: 'served-model', instructions: 'i', metadata: { k: 'v' }, store: false, error: null })
  t.same(response.output.map((o) => o.type), ['reasoning', 'message', 'function_call'])
  t.match(response.output[0], { type: 'reasoning', summary: [{ type: 'summary_text', text: 'think' }] })
  t.match(response.output[1], { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Let me check.', annotations: [] }] })
  t.match(response.output[2], { type: 'function_call', call_id: 'call_9', name: 'w', arguments: '{}', status: 'completed', id: /^fc_[0-9a-f]{48}$/ })
  t.same(response.usage, { input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 15 })
  const refused = toResponseObject({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' }, finish_reason: 'stop' }] }, frame())
  t.same(refused.output[0].content, [{ type: 'refusal', refusal: 'I cannot help with that.' }])
  t.same(statusFor('length'), { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } })
  t.same(statusFor('stop'), { status: 'completed', incomplete_details: null })
  t.equal(toResponsesUsage(undefined), null)
})

const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Partial<ChatChunk> = {}): ChatChunk =>
  ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'served', choices: [{ index: 0, delta, finish_reason: finish }], ...extra }) as ChatChunk

const parse = (text: string) => text.split('\n\n').filter(Boolean).map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data: '))!.slice(6)))

t.test('stream encoder: the typed event sequence, sequence numbers from 0, reasoning → message → calls', async (t) => {
  const encoder = new ResponsesStreamEncoder(frame(), 'p')
  let text = ''
  text += encoder.chunk(chunk({ role: 'assistant', content: '' }))
  text += encoder.chunk(chunk({ reasoning_content: 'hmm' }))
  text += encoder.chunk(chunk({ content: 'Hel' }))
  text += encoder.chunk(chunk({ content: 'lo' }))
  text += encoder.chunk(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'w', arguments: '{"ci' } }] }))
  text += encoder.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":1}' } }] }))
  text += encoder.chunk(chunk({}, 'tool_calls'))
  text += encoder.chunk({ ...chunk({}), choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })
  text += encoder.end()
  const events = parse(text)
  t.same(events.map((e) => e.type), [
    'response.created', 'response.in_progress',
    'response.output_item.added', 'response.reasoning_summary_part.added', 'response.reasoning_summary_text.delta',
    'response.reasoning_summary_text.done', 'response.reasoning_summary_part.done', 'response.output_item.done',
    'response.output_item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.delta',
    'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
    'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta',
    'response.function_call_arguments.done', 'response.output_item.done', 'response.completed',
  ])
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i))
  t.ok(text.split('\n\n').filter(Boolean).every((e, i) => e.startsWith(`event: ${events[i].type}\ndata: `)), 'each event is named as its type')
  const completed = events.at(-1).response
  t.match(completed, { status: 'completed', usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 } })
  t.match(completed.output[2], { type: 'function_call', call_id: 'call_1', name: 'w', arguments: '{"city":1}' })
  t.equal(events.find((e) => e.type === 'response.function_call_arguments.done').arguments, '{"city":1}')
  t.same(encoder.response(), completed, 'the sealed response is what the client saw')
})

t.test('stream encoder: failure after commit is response.failed with the error, and length is response.incomplete', async (t) => {
  const failing = new ResponsesStreamEncoder(frame(), 'tier1')
  const started = failing.chunk(chunk({ content: 'Hel' }))
  const failed = parse(failing.error(new UpstreamError('connection', 'connection failed (ECONNRESET)')))
  t.equal(failed.length, 1)
  t.match(failed[0], { type: 'response.failed', sequence_number: parse(started).length, response: { status: 'failed', error: { code: 'server_error', message: /tier1 failed after it had started: connection failed/ } } })
  t.equal(failed[0].response.output[0].status, 'incomplete')
  const cut = new ResponsesStreamEncoder(frame(), 'p')
  cut.chunk(chunk({ content: 'a' }))
  cut.chunk(chunk({}, 'length'))
  const end = parse(cut.end())
  t.match(end.at(-1), { type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } } })
})

t.test('stream encoder: a refusal is a message with a refusal part (response.refusal.delta/.done)', async (t) => {
  const encoder = new ResponsesStreamEncoder(frame(), 'p')
  const events = parse(encoder.chunk(chunk({ refusal: 'I cannot' })) + encoder.chunk(chunk({ refusal: ' help.' })) + encoder.chunk(chunk({}, 'stop')) + encoder.end())
  t.same(events.map((e) => e.type).slice(2), ['response.output_item.added', 'response.content_part.added', 'response.refusal.delta', 'response.refusal.delta', 'response.refusal.done', 'response.content_part.done', 'response.output_item.done', 'response.completed'])
  t.same(events.at(-1).response.output[0].content, [{ type: 'refusal', refusal: 'I cannot help.' }])
})

t.test('stream encoder: native chunks are written as their own bytes', async (t) => {
  const encoder = new ResponsesStreamEncoder(frame(), 'openai')
  const wire = 'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_up","object":"response","status":"in_progress","output":[]}}\n\n'
    + 'event: response.completed\ndata: {"type":"response.completed","sequence_number":1,"response":{"id":"resp_up","object":"response","status":"completed","output":[],"odd":1}}\n\n'
  const native = { ...chunk({}, 'stop'), [NATIVE_WIRE]: { dialect: 'openai-responses' as const, text: wire } }
  t.equal(encoder.chunk(native), wire)
  t.equal(encoder.end(), '', 'the upstream sent its own terminal event')
  t.match(encoder.response(), { id: 'resp_up', odd: 1 })
})

t.test('stream encoder: native, then translated once a chunk comes without wire text — never interleaved again', async (t) => {
  const encoder = new ResponsesStreamEncoder(frame(), 'openai')
  const wire = (events: Array<Record<string, unknown>>) => events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('')
  const first = wire([
    { type: 'response.created', sequence_number: 0, response: { id: 'resp_up', object: 'response', status: 'in_progress', model: 'gpt-x', output: [] } },
    { type: 'response.output_item.added', sequence_number: 1, output_index: 0, item: { id: 'msg_up', type: 'message', status: 'in_progress', content: [], role: 'assistant' } },
    { type: 'response.content_part.added', sequence_number: 2, item_id: 'msg_up', output_index: 0, content_index: 0, part: { type: 'output_text', text: '' } },
    { type: 'response.output_text.delta', sequence_number: 3, item_id: 'msg_up', output_index: 0, content_index: 0, delta: 'Hel' },
  ])
  let text = encoder.chunk({ ...chunk({ content: 'Hel' }), [NATIVE_WIRE]: { dialect: 'openai-responses', text: first } })
  text += encoder.chunk(chunk({ content: 'lo' })) // a rewritten (or resumed) chunk: no wire text
  text += encoder.chunk({ ...chunk({ content: '!' }), [NATIVE_WIRE]: { dialect: 'openai-responses', text: 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":4}\n\n' } })
  text += encoder.chunk(chunk({}, 'stop'))
  text += encoder.end()
  const events = parse(text)
  t.same(events.map((e) => e.sequence_number), events.map((_, i) => i), 'one sequence, no duplicate')
  const deltas = events.filter((e) => e.type === 'response.output_text.delta')
  t.same(deltas.map((e) => [e.delta, e.item_id]), [['Hel', 'msg_up'], ['lo', 'msg_up'], ['!', 'msg_up']], 'the translated deltas continue the native item')
  t.match(events.at(-1), { type: 'response.completed', response: { id: 'resp_up', output: [{ id: 'msg_up', content: [{ text: 'Hello!' }] }] } })
})

t.test('stream encoder: native wire text without the upstream response.created first is not written (the router rewrote the start)', async (t) => {
  const encoder = new ResponsesStreamEncoder(frame(), 'openai')
  const orphan = 'event: response.function_call_arguments.done\ndata: {"type":"response.function_call_arguments.done","sequence_number":4}\n\n'
  const events = parse(encoder.chunk({ ...chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { name: 'w', arguments: '{}' } }] }), [NATIVE_WIRE]: { dialect: 'openai-responses', text: orphan } }) + encoder.end())
  t.equal(events[0].type, 'response.created')
  t.notOk(events.some((e) => e.type === 'response.function_call_arguments.done' && e.sequence_number === 4 && !e.item_id), 'the orphan event is not written')
  t.match(events.at(-1), { type: 'response.completed', response: { id: 'resp_test', output: [{ type: 'function_call', call_id: 'call_1', arguments: '{}' }] } })
})

t.test('native event reader: waits for content, keeps every byte, maps calls and usage, fails honestly', async (t) => {
  const reader = new NativeEventReader()
  const ev = (data: Record<string, unknown>) => [String(data.type), JSON.stringify(data)] as const
  const events = [
    ev({ type: 'response.created', sequence_number: 0, response: { id: 'resp_u', model: 'gpt-x', created_at: 5 } }),
    ev({ type: 'response.output_item.added', sequence_number: 1, output_index: 0, item: { type: 'function_call', call_id: 'call_a', name: 'w', arguments: '' } }),
    ev({ type: 'response.function_call_arguments.delta', sequence_number: 2, output_index: 0, delta: '{"a"', obfuscation: 'q' }),
    ev({ type: 'response.function_call_arguments.done', sequence_number: 3, output_index: 0, arguments: '{"a"' }),
    ev({ type: 'response.completed', sequence_number: 4, response: { status: 'completed', usage: { input_tokens: 2, output_tokens: 1, total_tokens: 3, input_tokens_details: { cached_tokens: 1 }, output_tokens_details: { reasoning_tokens: 0 } } } }),
  ]
  t.equal(reader.accept(...events[0]), undefined, 'response.created waits for content')
  const first = reader.accept(...events[1])!
  t.same(first.choices[0].delta.tool_calls, [{ index: 0, id: 'call_a', type: 'function', function: { name: 'w', arguments: '' } }])
  t.equal(first[NATIVE_WIRE]!.text, `event: ${events[0][0]}\ndata: ${events[0][1]}\n\nevent: ${events[1][0]}\ndata: ${events[1][1]}\n\n`)
  t.same(reader.accept(...events[2])!.choices[0].delta.tool_calls, [{ index: 0, function: { arguments: '{"a"' } }])
  const done = reader.accept(...events[3])!
  t.same(done.choices, [], 'after the first content no event waits: a choices: [] chunk')
  t.equal(done[NATIVE_WIRE]!.text, `event: ${events[3][0]}\ndata: ${events[3][1]}\n\n`)
  const last = reader.accept(...events[4])!
  t.equal(last.choices[0].finish_reason, 'tool_calls')
  t.same(last.usage, { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3, prompt_tokens_details: { cached_tokens: 1 } })
  t.doesNotThrow(() => reader.end())
  t.throws(() => new NativeEventReader().accept('response.failed', '{"type":"response.failed","response":{"error":{"code":"server_error","message":"boom"}}}'), /boom/)
  const inBand = (() => { try { new NativeEventReader().accept('error', '{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null,"sequence_number":3}') } catch (err) { return err } })()
  t.match(inBand, { kind: 'rate_limited', message: /slow down/ }, 'an in-band error event is a failure, never an empty success')
  t.throws(() => responseToCompletion({ object: 'response', status: 'failed', output: [], error: { code: 'server_error', message: 'down' } } as never, '{}'), /down/, 'so is a failed JSON response')
  const cut = new NativeEventReader()
  cut.accept(...ev({ type: 'response.output_text.delta', delta: 'x' }))
  t.throws(() => cut.end(), /ended before response.completed/)
})

t.test('chains: the native body gets the chain in front of its input; what is stored replays without ids', async (t) => {
  const history = [{ type: 'message', role: 'user', content: 'one' }, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'two' }] }]
  const body = { model: 'm', input: 'three', previous_response_id: 'resp_1', unknown_field: 1 } as ResponsesRequest
  t.same(nativeBody(body, history), { model: 'm', input: [...history, { type: 'message', role: 'user', content: 'three' }], unknown_field: 1 })
  const plain = { model: 'm', input: 'x' } as ResponsesRequest
  t.equal(nativeBody(plain, []), plain, 'without a chain the body is the client\'s own object')
  const chain = chainAfter(history, [{ id: 'msg_in', type: 'message', role: 'user', content: 'three' }], {
    output: [{ id: 'rs_1', type: 'reasoning', summary: [], encrypted_content: 'x' }, { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'four', annotations: [] }] }, { id: 'fc_1', type: 'function_call', call_id: 'c', name: 'n', arguments: '{}', status: 'completed' }],
  } as never)
  t.same(chain.slice(2), [
    { type: 'message', role: 'user', content: 'three' },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'four' }] },
    { type: 'function_call', call_id: 'c', name: 'n', arguments: '{}' },
  ])
})

t.test('memory store: TTL, owner checks, count and byte bounds (oldest first out)', async (t) => {
  const entry = (id: string, size = 10) => ({ id, owner: 'k1', rootId: id, response: { id, pad: 'x'.repeat(size) } as never, input: [], items: [] })
  const byCount = new MemoryResponsesStore({ ttlMs: 60_000, maxCount: 2, maxBytes: 1_000_000 })
  for (const id of ['a', 'b', 'c']) await byCount.put(entry(id))
  t.equal(await byCount.get('a'), undefined, 'the oldest went first')
  t.ok(await byCount.get('c'))
  t.notOk(await byCount.delete('c', 'k2'), "another key cannot delete it")
  t.notOk(await byCount.put({ ...entry('c'), owner: 'k2' }), 'nor overwrite it')
  t.equal((await byCount.get('c'))!.owner, 'k1')
  t.ok(await byCount.delete('c', 'k1'))
  t.equal(await byCount.get('c'), undefined)
  const byBytes = new MemoryResponsesStore({ ttlMs: 60_000, maxCount: 100, maxBytes: 1_000 })
  for (const id of ['a', 'b', 'c', 'd']) await byBytes.put(entry(id, 300))
  t.ok(byBytes.bytes <= 1_000, `bytes held ${byBytes.bytes} stay under the bound`)
  t.equal(await byBytes.get('a'), undefined)
  t.ok(await byBytes.get('d'))
  await byBytes.put(entry('huge', 5_000))
  t.equal(await byBytes.get('huge'), undefined, 'a response larger than the whole budget is not kept')
  t.ok(await byBytes.get('d'), 'and evicts nothing')
  // The budget is bytes (UTF-8, as the Redis store and RESPONSES_MAX_BYTES say), not characters:
  // 400 characters of CJK text are ~1,200 bytes, over a 1,000-byte budget.
  const wide = new MemoryResponsesStore({ ttlMs: 60_000, maxCount: 100, maxBytes: 1_000 })
  t.notOk(await wide.put({ ...entry('cjk', 0), response: { id: 'cjk', pad: '漢'.repeat(400) } as never }), 'a response over the budget in bytes is not kept')
  t.ok(await wide.put({ ...entry('cjk2', 0), response: { id: 'cjk2', pad: '漢'.repeat(200) } as never }))
  t.ok(wide.bytes > 600 && wide.bytes <= 1_000, `bytes held ${wide.bytes} are UTF-8 bytes`)
  let clock = 1_000
  const expiring = new MemoryResponsesStore({ ttlMs: 100, maxCount: 10, maxBytes: 10_000 }, () => clock)
  await expiring.put(entry('old'))
  clock += 99
  t.ok(await expiring.get('old'), 'alive until its TTL')
  clock += 1
  t.equal(await expiring.get('old'), undefined, 'expired')
  t.equal(expiring.size, 0, 'and forgotten')
})

t.test('native stream: each upstream event is parsed once, by the reader; the encoder follows its parsed events', async (t) => {
  const upstreamEvents = [
    { type: 'response.created', sequence_number: 0, response: { id: 'resp_up', object: 'response', status: 'in_progress', model: 'gpt-x', output: [] } },
    { type: 'response.output_item.added', sequence_number: 1, output_index: 0, item: { id: 'msg_up', type: 'message', status: 'in_progress', content: [], role: 'assistant' } },
    { type: 'response.content_part.added', sequence_number: 2, item_id: 'msg_up', output_index: 0, content_index: 0, part: { type: 'output_text', text: '' } },
    ...['Hel', 'lo', '!'].map((delta, i) => ({ type: 'response.output_text.delta', sequence_number: 3 + i, item_id: 'msg_up', output_index: 0, content_index: 0, delta })),
    { type: 'response.output_text.done', sequence_number: 6, item_id: 'msg_up', output_index: 0, content_index: 0, text: 'Hello!' },
    { type: 'response.output_item.done', sequence_number: 7, output_index: 0, item: { id: 'msg_up', type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Hello!' }], role: 'assistant' } },
    { type: 'response.completed', sequence_number: 8, response: { id: 'resp_up', object: 'response', status: 'completed', model: 'gpt-x', output: [], usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 } } },
  ]
  const datas = upstreamEvents.map((e) => JSON.stringify(e))
  const parse = JSON.parse
  let parses = 0
  JSON.parse = ((text: string, reviver?: never) => {
    parses++
    return parse(text, reviver)
  }) as typeof JSON.parse
  let written = ''
  const encoder = new ResponsesStreamEncoder(frame(), 'openai')
  try {
    const reader = new NativeEventReader()
    for (const [i, data] of datas.entries()) {
      const chunk = reader.accept(upstreamEvents[i].type, data)
      if (chunk) written += encoder.chunk(chunk)
    }
    written += encoder.end()
  } finally {
    JSON.parse = parse
  }
  t.equal(parses, upstreamEvents.length, `${parses} parses for ${upstreamEvents.length} events`)
  t.equal(written, datas.map((d, i) => `event: ${upstreamEvents[i].type}\ndata: ${d}\n\n`).join(''), 'the upstream bytes, as they came')
  t.match(encoder.response(), { id: 'resp_up', status: 'completed' }, 'the encoder followed the stream to its terminal response')
})

t.test('textDeltaEvent: the same bytes as the event object serialized, whatever the text', async (t) => {
  const texts = ['Hello', '', ' ', 'say "hi"', 'back\\slash', 'line\nbreak\r\ttab', '\u0000\u001f', 'é ü 漢字 😀', '\ud800 lone', '</script>', 'a'.repeat(2000)]
  const items = [{ id: 'msg_0123456789abcdef', index: 0 }, { id: 'msg_"odd"\\id', index: 7 }]
  for (const item of items) {
    for (const [i, delta] of texts.entries()) {
      const expected = sseEvent({ type: 'response.output_text.delta', sequence_number: i * 1000, item_id: item.id, output_index: item.index, content_index: 0, delta, logprobs: [] })
      t.equal(textDeltaEvent(i * 1000, item, delta), expected, JSON.stringify(delta).slice(0, 40))
    }
  }
})
