// The Messages dialect's pure codecs, without a network: the shared mapping tables (both
// directions), request decode, response encode, and the stream encoder's event sequence —
// translated, native, and native switching to translated mid-stream (a resumed leg).
import t from 'tap'
import { NATIVE, NATIVE_WIRE, STREAM_NOTE, type ChatChunk } from '../../providers/contract.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import {
  THINKING_BUDGET_TOKENS, anthropicErrorType, blockDeltaEvent, effortForBudget, finishReason, fromAnthropicToolChoice, imageSourceFromUrl,
  sseEvent, stopReason, stopSequenceOf, toAnthropicToolChoice, toAnthropicUsage, toOpenAIUsage, urlFromImageSource, withStopSequence,
} from '../../dialects/anthropic-messages/wire.ts'
import { TOOL_ERROR_PREFIX, decodeMessagesRequest } from '../../dialects/anthropic-messages/request.ts'
import { encodeMessagesResponse, messagesResponseBody } from '../../dialects/anthropic-messages/response.ts'
import { MessagesStreamEncoder, streamErrorBody } from '../../dialects/anthropic-messages/stream.ts'
import { anthropicErrorReply } from '../../dialects/anthropic-messages/errors.ts'
import { nativeMessagesBody } from '../../providers/anthropic/native.ts'
import { countableParts, estimateInputTokens, IMAGE_TOKENS_ESTIMATE } from '../../dialects/anthropic-messages/count-tokens.ts'

t.test('stop_reason ↔ finish_reason, both directions', async (t) => {
  const toOpenAI: Array<[string | null, string | null]> = [
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['pause_turn', 'stop'], ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'], [null, null], ['a_new_reason', 'stop'],
  ]
  for (const [stop, finish] of toOpenAI) t.equal(finishReason(stop), finish, `${stop} → ${finish}`)
  const toAnthropic: Array<[string | null, string | null, string]> = [
    ['stop', null, 'end_turn'], ['stop', 'END', 'stop_sequence'], ['length', null, 'max_tokens'], ['tool_calls', null, 'tool_use'],
    ['function_call', null, 'tool_use'], ['content_filter', null, 'refusal'], [null, null, 'end_turn'], ['weird', null, 'end_turn'],
  ]
  for (const [finish, sequence, stop] of toAnthropic) t.equal(stopReason(finish, sequence), stop, `${finish}/${sequence} → ${stop}`)
})

t.test('a matched stop sequence rides on the choice as vLLM names it, and only a requested one counts', async (t) => {
  const choice = withStopSequence({ index: 0 }, 'END')
  t.equal(stopSequenceOf(choice, ['END', 'STOP']), 'END')
  t.equal(stopSequenceOf(choice, ['STOP']), null, 'not one the client asked for')
  t.equal(stopSequenceOf({ stop_reason: 128009 }, ['END']), null, 'vLLM token ids are not sequences')
  t.equal(stopSequenceOf(choice, undefined), null)
})

t.test('tool_choice both ways', async (t) => {
  const cases: Array<[unknown, unknown, { type: string; name?: string; disable_parallel_tool_use?: boolean } | undefined]> = [
    ['auto', undefined, { type: 'auto' }],
    ['required', undefined, { type: 'any' }],
    ['none', undefined, { type: 'none' }],
    [{ type: 'function', function: { name: 'f' } }, undefined, { type: 'tool', name: 'f' }],
    ['auto', false, { type: 'auto', disable_parallel_tool_use: true }],
    [undefined, false, { type: 'auto', disable_parallel_tool_use: true }],
    ['none', false, { type: 'none' }],
    [undefined, undefined, undefined],
  ]
  for (const [choice, parallel, anthropic] of cases) {
    t.same(toAnthropicToolChoice(choice as never, parallel), anthropic, `out ${JSON.stringify([choice, parallel])}`)
  }
  t.same(fromAnthropicToolChoice({ type: 'auto' }), { tool_choice: 'auto' })
  t.same(fromAnthropicToolChoice({ type: 'any', disable_parallel_tool_use: true }), { tool_choice: 'required', parallel_tool_calls: false })
  t.same(fromAnthropicToolChoice({ type: 'tool', name: 'f' }), { tool_choice: { type: 'function', function: { name: 'f' } } })
  t.same(fromAnthropicToolChoice({ type: 'none', disable_parallel_tool_use: true }), { tool_choice: 'none' })
  t.same(fromAnthropicToolChoice(undefined), {})
  // Round trip through both tables.
  for (const choice of ['auto', 'required', 'none', { type: 'function', function: { name: 'g' } }] as const) {
    t.same(fromAnthropicToolChoice(toAnthropicToolChoice(choice, undefined)).tool_choice, choice, `round trip ${JSON.stringify(choice)}`)
  }
})

t.test('thinking budget ↔ reasoning effort: effort → budget → effort is the identity for low/medium/high', async (t) => {
  for (const effort of ['low', 'medium', 'high']) t.equal(effortForBudget(THINKING_BUDGET_TOKENS[effort]), effort, effort)
  const budgets: Array<[number, string]> = [[1024, 'low'], [4095, 'low'], [4096, 'medium'], [10_000, 'medium'], [12_000, 'high'], [64_000, 'high']]
  for (const [budget, effort] of budgets) t.equal(effortForBudget(budget), effort, `${budget} → ${effort}`)
})

t.test('images and usage both ways', async (t) => {
  const png = 'data:image/png;base64,iVBORw0KGgo='
  t.same(imageSourceFromUrl(png), { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' })
  t.equal(urlFromImageSource(imageSourceFromUrl(png)!), png)
  t.same(imageSourceFromUrl('https://example.com/a.jpg'), { type: 'url', url: 'https://example.com/a.jpg' })
  t.equal(imageSourceFromUrl('ftp://x'), undefined)

  const anthropic = { input_tokens: 10, output_tokens: 3, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 }
  const openai = toOpenAIUsage(anthropic)
  t.same(openai, { prompt_tokens: 130, completion_tokens: 3, total_tokens: 133, prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 20 } })
  t.same(toAnthropicUsage(openai), anthropic, 'Anthropic → OpenAI → Anthropic keeps the cache split')
  t.same(toAnthropicUsage({ prompt_tokens: 50, completion_tokens: 7, total_tokens: 57, prompt_tokens_details: { cached_tokens: 32 } }),
    { input_tokens: 18, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 32 }, 'OpenAI cached_tokens')
  t.same(toAnthropicUsage({ prompt_tokens: 50, completion_tokens: 7, total_tokens: 57, prompt_cache_hit_tokens: 40 }),
    { input_tokens: 10, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 40 }, 'DeepSeek prompt_cache_hit_tokens')
  t.same(toAnthropicUsage(undefined), { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 })
})

t.test('error types and statuses: Anthropic\'s table; all providers failed is 529', async (t) => {
  const types: Array<[number, string]> = [[400, 'invalid_request_error'], [401, 'authentication_error'], [403, 'permission_error'], [404, 'not_found_error'],
    [413, 'request_too_large'], [415, 'invalid_request_error'], [429, 'rate_limit_error'], [500, 'api_error'], [502, 'api_error'], [503, 'overloaded_error'], [529, 'overloaded_error']]
  for (const [status, type] of types) t.equal(anthropicErrorType(status), type, `${status} → ${type}`)
  t.same(anthropicErrorReply({ statusCode: 503, code: 'all_providers_failed', message: 'm' }), { status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'm' } } })
  t.same(anthropicErrorReply({ statusCode: 429, code: 'all_providers_failed', message: 'm' }).status, 429)
  t.same(anthropicErrorReply({ statusCode: 503, code: 'session_store_unavailable', message: 'm' }).status, 503)
  t.same(streamErrorBody(new UpstreamError('stream_error', 'x', { upstreamCode: 'overloaded_error' })).type, 'overloaded_error', 'an Anthropic type is kept')
  t.same(streamErrorBody(new UpstreamError('overloaded', 'x')).type, 'overloaded_error')
  t.same(streamErrorBody(new UpstreamError('timeout', 'x')).type, 'api_error')
  t.same(streamErrorBody(new Error('x')).type, 'api_error')
})

t.test('request decode: system blocks, every content block, tools, choice, thinking, metadata; the body kept for native', async (t) => {
  const body = {
    model: 'claude-x', max_tokens: 512, stream: true, temperature: 0.3, top_p: 0.9, top_k: 40, stop_sequences: ['END'],
    metadata: { user_id: 'u-1' },
    system: [{ type: 'text', text: 'Be terse.', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'English only.' }],
    thinking: { type: 'enabled', budget_tokens: 8192 },
    tools: [
      { name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } },
      { type: 'web_search_20250305', name: 'web_search' },
    ],
    tool_choice: { type: 'any', disable_parallel_tool_use: true },
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }, { type: 'image', source: { type: 'url', url: 'https://x.test/a.png' } }] },
      { role: 'assistant', content: [
        { type: 'thinking', thinking: 'I should read.', signature: 'sig' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'text', text: 'Reading.' },
        { type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'a' } },
        { type: 'tool_use', id: 'toolu_2', name: 'read_file', input: { path: 'b' } },
      ] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: 'alpha' },
        { type: 'tool_result', tool_use_id: 'toolu_2', is_error: true, content: [{ type: 'text', text: 'no such file' }, { type: 'image', source: { type: 'url', url: 'https://x.test/shot.png' } }] },
        { type: 'text', text: 'And now?' },
      ] },
      { role: 'assistant', content: 'Done.' },
    ],
  }
  const req = decodeMessagesRequest(body as never, { headers: { 'anthropic-version': '2026-10-21', 'anthropic-beta': 'prompt-caching-2024-07-31', 'x-other': 'no' } })
  t.same(req.messages, [
    { role: 'system', content: 'Be terse.\n\nEnglish only.' },
    { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }, { type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
    { role: 'assistant', content: 'Reading.', reasoning_content: 'I should read.', tool_calls: [
      { id: 'toolu_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a"}' } },
      { id: 'toolu_2', type: 'function', function: { name: 'read_file', arguments: '{"path":"b"}' } },
    ] },
    { role: 'tool', tool_call_id: 'toolu_1', content: 'alpha' },
    { role: 'tool', tool_call_id: 'toolu_2', content: `${TOOL_ERROR_PREFIX}no such file` },
    { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/shot.png' } }] },
    { role: 'user', content: 'And now?' },
    { role: 'assistant', content: 'Done.' },
  ])
  t.equal(req.max_tokens, 512)
  t.equal(req.stream, true)
  t.same(req.stream_options, { include_usage: true })
  t.equal(req.temperature, 0.3)
  t.equal(req.top_p, 0.9)
  t.notOk('top_k' in req, 'top_k is not sent to OpenAI-shaped providers (OpenAI rejects it)')
  t.same(req.stop, ['END'])
  t.equal(req.user, 'u-1')
  t.equal(req.reasoning_effort, 'medium')
  t.same(req.tools, [{ type: 'function', function: { name: 'read_file', description: 'Read a file', parameters: body.tools[0].input_schema } }], 'server tools are not translated')
  t.equal(req.tool_choice, 'required')
  t.equal(req.parallel_tool_calls, false)
  t.same(req[NATIVE], { dialect: 'anthropic-messages', body, headers: { 'anthropic-version': '2026-10-21', 'anthropic-beta': 'prompt-caching-2024-07-31' } })
  t.equal(req[NATIVE]!.body, body, 'the very body, untouched')
  const withSession = decodeMessagesRequest({ ...body, session_id: 's-1' } as never, { headers: {} })
  t.same(withSession[NATIVE]!.body, body, 'tiergate\'s session_id is not part of the native body')
  t.notOk('session_id' in withSession)
})

t.test('reasoning is asked for only with thinking on: a budget, or adaptive with output_config.effort; JSON schema outputs', async (t) => {
  const base = { model: 'm', max_tokens: 10, messages: [{ role: 'user' as const, content: 'x' }] }
  const cases: Array<[Record<string, unknown>, string | undefined]> = [
    [{ thinking: { type: 'enabled', budget_tokens: 16_000 } }, 'high'],
    [{ thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }, 'low'],
    [{ thinking: { type: 'adaptive' }, output_config: { effort: 'max' } }, 'high'],
    [{ thinking: { type: 'adaptive' } }, 'medium'],
    [{ thinking: { type: 'disabled' }, output_config: { effort: 'high' } }, undefined],
    [{ output_config: { effort: 'high' } }, undefined],
    [{}, undefined],
  ]
  for (const [extra, effort] of cases) t.equal(decodeMessagesRequest({ ...base, ...extra } as never, { headers: {} }).reasoning_effort, effort, JSON.stringify(extra))
  const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }
  t.same(decodeMessagesRequest({ ...base, output_config: { format: { type: 'json_schema', schema } } } as never, { headers: {} }).response_format,
    { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } })
  t.notOk('response_format' in decodeMessagesRequest({ ...base, output_config: { format: { type: 'other' } } } as never, { headers: {} }))
})

t.test('native body: model replaced, stream matched, unsigned (tiergate-made) thinking blocks left out, the rest untouched', async (t) => {
  const body = { model: 'alias', max_tokens: 5, cache_anything: { x: 1 }, messages: [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'from groq', signature: '' }, { type: 'text', text: 'b' }] },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'signed', signature: 'sig' }, { type: 'text', text: 'c' }] },
  ] }
  const out = nativeMessagesBody({ dialect: 'anthropic-messages', body, headers: {} }, 'claude-real', true)
  t.same(out, { ...body, model: 'claude-real', stream: true, messages: [body.messages[0], { role: 'assistant', content: [{ type: 'text', text: 'b' }] }, body.messages[2]] })
  t.equal(out.messages[2], body.messages[2], 'untouched messages are the same objects')
  t.equal(body.model, 'alias', 'the client body itself is not changed')
})

t.test('response encode: blocks in order, parsed tool input, stop reasons, usage; a native body is sent as it is', async (t) => {
  const completion = {
    id: 'chatcmpl-1', object: 'chat.completion' as const, created: 1, model: 'gpt-x',
    choices: [{ index: 0, finish_reason: 'tool_calls' as const, message: { role: 'assistant' as const, content: 'Let me check.', reasoning_content: 'hmm', tool_calls: [
      { id: 'call_1', type: 'function' as const, function: { name: 'read', arguments: '{"path":"a","n":[1]}' } },
      { id: 'call_2', type: 'function' as const, function: { name: 'read', arguments: 'not json' } },
    ] } }],
    usage: { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49, prompt_tokens_details: { cached_tokens: 30 } },
  }
  t.same(encodeMessagesResponse(completion, undefined), {
    id: 'msg_chatcmpl-1', type: 'message', role: 'assistant', model: 'gpt-x',
    content: [
      { type: 'thinking', thinking: 'hmm', signature: '' },
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_use', id: 'call_1', name: 'read', input: { path: 'a', n: [1] } },
      { type: 'tool_use', id: 'call_2', name: 'read', input: { arguments: 'not json' } },
    ],
    stop_reason: 'tool_use', stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 30 },
  })
  const stopped = { ...completion, choices: [withStopSequence({ index: 0, finish_reason: 'stop' as const, message: { role: 'assistant' as const, content: 'x' } }, 'END')] }
  t.match(encodeMessagesResponse(stopped, ['END']), { stop_reason: 'stop_sequence', stop_sequence: 'END' })
  t.match(encodeMessagesResponse(stopped, undefined), { stop_reason: 'end_turn', stop_sequence: null })
  const refused = { ...completion, choices: [{ index: 0, finish_reason: 'stop' as const, message: { role: 'assistant' as const, content: null, refusal: 'I cannot help with that.' } }] }
  t.match(encodeMessagesResponse(refused, undefined), { content: [{ type: 'text', text: 'I cannot help with that.' }], stop_reason: 'refusal' }, 'an OpenAI refusal')
  const native = { ...completion, [NATIVE_WIRE]: { dialect: 'anthropic-messages' as const, text: '{"id":"msg_x","odd_field":1}' } }
  t.equal(messagesResponseBody(native, undefined), '{"id":"msg_x","odd_field":1}')
})

// ── stream encoder ────────────────────────────────────────────────────────────────────────
const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Partial<ChatChunk> = {}): ChatChunk =>
  ({ id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1, model: 'gpt-x', choices: [{ index: 0, delta, finish_reason: finish as never }], ...extra })

function events(text: string) {
  return text.split('\n\n').filter(Boolean).map((frame) => {
    const type = /^event: (.*)$/m.exec(frame)![1]
    return { type, data: JSON.parse(/^data: (.*)$/m.exec(frame)![1]) }
  })
}

function encode(encoder: MessagesStreamEncoder, chunks: ChatChunk[], end = true): string {
  return chunks.map(encoder.chunk).join('') + (end ? encoder.end() : '')
}

t.test('stream encoder, translated: Anthropic\'s exact sequence with thinking, text, two tools, stop and usage', async (t) => {
  const encoder = new MessagesStreamEncoder({ model: 'asked', pingIntervalMs: 1000 })
  const out = encode(encoder, [
    chunk({ role: 'assistant', content: '' }),
    chunk({ reasoning_content: 'think' }),
    chunk({ content: 'Hel' }), chunk({ content: 'lo' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'read', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"pa' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: 'th":1}' } }] }),
    chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'list', arguments: '{}' } }] }),
    chunk({}, 'tool_calls'),
    { ...chunk({}), choices: [], usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 } },
  ])
  t.same(events(out).map((e) => [e.type, e.data.index ?? null, e.data.delta?.type ?? e.data.content_block?.type ?? null]), [
    ['message_start', null, null],
    ['content_block_start', 0, 'thinking'], ['content_block_delta', 0, 'thinking_delta'], ['content_block_stop', 0, null],
    ['content_block_start', 1, 'text'], ['content_block_delta', 1, 'text_delta'], ['content_block_delta', 1, 'text_delta'], ['content_block_stop', 1, null],
    ['content_block_start', 2, 'tool_use'], ['content_block_delta', 2, 'input_json_delta'], ['content_block_delta', 2, 'input_json_delta'], ['content_block_stop', 2, null],
    ['content_block_start', 3, 'tool_use'], ['content_block_delta', 3, 'input_json_delta'], ['content_block_stop', 3, null],
    ['message_delta', null, null], ['message_stop', null, null],
  ])
  const all = events(out)
  t.match(all[0].data.message, { id: 'msg_chatcmpl-9', type: 'message', role: 'assistant', model: 'gpt-x', content: [], stop_reason: null })
  t.same(all[8].data.content_block, { type: 'tool_use', id: 'call_a', name: 'read', input: {} })
  t.same(all.filter((e) => e.data.index === 2 && e.data.delta).map((e) => e.data.delta.partial_json).join(''), '{"path":1}')
  t.same(all.at(-2)!.data, { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 20, output_tokens: 8, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } })
  t.equal(encoder.end(), '', 'the end is written once')
})

t.test('stream encoder: stop_sequence, an empty stream, and the error event (no message_stop)', async (t) => {
  const stopped = new MessagesStreamEncoder({ model: 'm', stopSequences: ['END'], pingIntervalMs: 1000 })
  const finish = chunk({}, 'stop')
  withStopSequence(finish.choices[0], 'END')
  const out = events(encode(stopped, [chunk({ content: 'x' }), finish]))
  t.same(out.at(-2)!.data.delta, { stop_reason: 'stop_sequence', stop_sequence: 'END' })

  const empty = events(new MessagesStreamEncoder({ model: 'asked', pingIntervalMs: 1000 }).end())
  t.same(empty.map((e) => e.type), ['message_start', 'message_delta', 'message_stop'])
  t.equal(empty[0].data.message.model, 'asked')

  const refusing = new MessagesStreamEncoder({ model: 'm', pingIntervalMs: 1000 })
  const refusal = events(encode(refusing, [chunk({ role: 'assistant', content: '' }), chunk({ refusal: 'I cannot' }), chunk({ refusal: ' help.' }), chunk({}, 'stop')]))
  t.same(refusal.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text), ['I cannot', ' help.'])
  t.equal(refusal.at(-2)!.data.delta.stop_reason, 'refusal', 'a streamed OpenAI refusal ends with stop_reason refusal')

  const failing = new MessagesStreamEncoder({ model: 'm', pingIntervalMs: 1000 })
  const text = encode(failing, [chunk({ content: 'par' })], false) + failing.error(new UpstreamError('timeout', 'no chunk for 30000 ms'))
  const failed = events(text)
  t.same(failed.map((e) => e.type), ['message_start', 'content_block_start', 'content_block_delta', 'error'])
  t.same(failed.at(-1)!.data, { type: 'error', error: { type: 'api_error', message: 'The stream failed after it had started: no chunk for 30000 ms' } })
  t.equal(failing.keepAlive.frame, 'event: ping\ndata: {"type": "ping"}\n\n')
})

const frame = (data: Record<string, unknown>) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`
const native = (c: ChatChunk, text: string): ChatChunk => Object.assign(c, { [NATIVE_WIRE]: { dialect: 'anthropic-messages' as const, text } })

t.test('stream encoder, native: upstream text byte for byte; chunks without wire switch to translation, block numbering continued', async (t) => {
  const start = frame({ type: 'message_start', message: { id: 'msg_up', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 }, odd: true } })
    + frame({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } })
  const thinking = frame({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm' } })
  const signatureAndText = frame({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'SIG==' } })
    + frame({ type: 'content_block_stop', index: 0 }) + frame({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '', citations: null } })
    + 'event: ping\ndata: {"type": "ping"}\n\n' + frame({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hel' } })
  const encoder = new MessagesStreamEncoder({ model: 'm', pingIntervalMs: 1000 })
  const nativePart = encode(encoder, [
    native(chunk({ role: 'assistant', content: '' }), ''),
    native(chunk({ reasoning_content: 'hm' }), start + thinking),
    native(chunk({ content: 'Hel' }), signatureAndText),
    { ...chunk({}), choices: [], [STREAM_NOTE]: 'resumed on backup via prefill' },
  ], false)
  t.equal(nativePart, start + thinking + signatureAndText, 'exactly the upstream events')
  // The native leg failed; the resumed leg on an OpenAI-shaped provider continues the text block, then calls a tool.
  const translated = encode(encoder, [
    chunk({ content: 'lo' }),
    chunk({ tool_calls: [{ index: 0, id: 'call_z', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
    native(chunk({ content: 'late native' }), frame({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'late native' } })),
    chunk({}, 'tool_calls'),
  ])
  t.same(events(translated).map((e) => [e.type, e.data.index ?? null]), [
    ['content_block_delta', 1], ['content_block_stop', 1],
    ['content_block_start', 2], ['content_block_delta', 2],
    ['content_block_stop', 2], ['content_block_start', 3], ['content_block_delta', 3], // once translating, always translating
    ['content_block_stop', 3], ['message_delta', null], ['message_stop', null],
  ])
  t.notOk(/message_start/.test(translated), 'no second message_start')
})

t.test('stream encoder, native to the end: nothing added after the upstream message_stop', async (t) => {
  const encoder = new MessagesStreamEncoder({ model: 'm', pingIntervalMs: 1000 })
  const wire = frame({ type: 'message_start', message: { id: 'msg_1' } }) + frame({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
    + frame({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } })
  const tail = frame({ type: 'content_block_stop', index: 0 }) + frame({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } })
  const stop = frame({ type: 'message_stop' })
  const out = encode(encoder, [native(chunk({ content: 'Hi' }), wire), native(chunk({}, 'stop'), tail), native({ ...chunk({}), choices: [] }, stop)])
  t.equal(out, wire + tail + stop)
  // Cut before message_stop (a cache replay or a router-made end): the encoder closes what is open.
  const cut = new MessagesStreamEncoder({ model: 'm', pingIntervalMs: 1000 })
  const closing = encode(cut, [native(chunk({ content: 'Hi' }), wire), native(chunk({}, 'stop'), tail)])
  t.equal(closing, wire + tail + stop, 'message_delta not repeated, only message_stop added')
})

t.test('count_tokens estimate: a real tokenizer over every part, never a fixed number', async (t) => {
  const short = await estimateInputTokens({ messages: [{ role: 'user', content: 'Hello' }] })
  const long = await estimateInputTokens({ messages: [{ role: 'user', content: 'Hello, '.repeat(200) }] })
  t.ok(short > 0 && long > short * 50, `grows with the text (${short} → ${long})`)
  const withTools = await estimateInputTokens({ messages: [{ role: 'user', content: 'Hello' }], tools: [{ name: 'read_file', description: 'Read a file from disk', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }] })
  t.ok(withTools > short, 'tool definitions count')
  const parts = countableParts({
    system: [{ type: 'text', text: 'sys' }],
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'u' } }, { type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'res' }] }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: { a: 1 } }] }],
  })
  t.same(parts.texts, ['sys', 'res', 'f {"a":1}'])
  t.equal(parts.fixedTokens, 2 * 3 + IMAGE_TOKENS_ESTIMATE)
  t.equal(await estimateInputTokens({ messages: [{ role: 'user', content: 'a <|endoftext|> b' }] }) > 3, true, 'special-token text is counted, not rejected')
})

// ── the SSE writer every dialect's encoder plugs into ───────────────────────────────────────
t.test('sseBody: router notes as SSE comments before their chunk, the encoder\'s end or error, keep-alive only while waiting', async (t) => {
  const { sseBody } = await import('../../dialects/sse-body.ts')
  const { waitFor } = await import('../helpers/wait.ts')
  const collect = async (body: NodeJS.ReadableStream) => { let out = ''; for await (const c of body) out += c; return out }
  const encoder = { chunk: (c: ChatChunk) => `[${c.id}]`, end: () => '[end]', error: (e: unknown) => `[error ${(e as Error).message}]` }

  async function* clean() { yield { ...chunk({}), id: 'a' }; yield { ...chunk({}), id: 'b', [STREAM_NOTE]: 'resumed on x\nvia prefill' } }
  t.equal(await collect(sseBody(clean(), encoder, (s) => s)), '[a]: resumed on x via prefill\n\n[b][end]', 'a note cannot break out of its comment line')

  async function* failing() { yield { ...chunk({}), id: 'a' }; throw new Error('cut with sk-secret') }
  t.equal(await collect(sseBody(failing(), encoder, (s) => s.replace('sk-secret', '***'))), '[a][error cut with ***]', 'the error event, redacted, and no end')

  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  async function* slow() { yield { ...chunk({}), id: 'a' }; await gate; yield { ...chunk({}), id: 'b' } }
  const body = sseBody(slow(), { ...encoder, keepAlive: { intervalMs: 5, frame: '[ping]' } }, (s) => s)
  let out = ''
  body.on('data', (c) => { out += c })
  await waitFor(() => out.includes('[ping]'), 'a keep-alive during the silence')
  release()
  await new Promise((resolve) => body.on('end', resolve))
  t.match(out, /^\[a\](\[ping\])+\[b\]\[end\]$/, 'pings only between chunks, none after the end')
})

t.test('blockDeltaEvent: the same bytes as the event object serialized, whatever the text', async (t) => {
  const texts = ['Hello', ' ', 'say "hi"', 'back\\slash', 'line\nbreak\r\ttab', '\u0000\u001f', 'é ü 漢字 😀', '\ud800 lone', '</script>', 'a'.repeat(2000)]
  for (const index of [0, 1, 17]) {
    for (const text of texts) {
      t.equal(blockDeltaEvent(index, 'text', text), sseEvent({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }), `text ${index} ${JSON.stringify(text).slice(0, 30)}`)
      t.equal(blockDeltaEvent(index, 'thinking', text), sseEvent({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: text } }), `thinking ${index} ${JSON.stringify(text).slice(0, 30)}`)
    }
  }
})
