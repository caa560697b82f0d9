// Pure parts of provider `local`: the queue, the translations, the model id, the library error.
import t from 'tap'
import { SlotQueue, BusyError } from '../../providers/local/queue.ts'
import { localCannotServe, toHistory, samplingOptions, finishReason } from '../../providers/local/translate.ts'
import { modelIdFrom } from '../../providers/local/settings.ts'
import { libraryError, progressBar } from '../../providers/local/runtime.ts'

t.test('the queue: slots, then waiters in order, then busy; a waiter that leaves is removed', async (t) => {
  const queue = new SlotQueue(1, 1)
  const first = await queue.acquire(new AbortController().signal)
  const leaving = new AbortController()
  const waiting = queue.acquire(leaving.signal)
  t.same(queue.state, { active: 1, waiting: 1, slots: 1, queueMax: 1 })
  await t.rejects(queue.acquire(new AbortController().signal), BusyError, 'beyond the queue: busy at once')
  leaving.abort(new Error('client left'))
  await t.rejects(waiting, /client left/)
  t.same(queue.state, { active: 1, waiting: 0, slots: 1, queueMax: 1 })
  const next = queue.acquire(new AbortController().signal)
  first()
  first()
  const release = await next
  t.same(queue.state, { active: 1, waiting: 0, slots: 1, queueMax: 1 }, 'the slot passed on; a second release is a no-op')
  release()
  t.same(queue.state.active, 0)
})

t.test('what the local model declines', async (t) => {
  const base = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] }
  const tools = [{ type: 'function' as const, function: { name: 'f' } }]
  const chatModel = { embeddingOnly: false, templateHasTools: true }
  const table: Array<[string, object, object | undefined, RegExp | undefined]> = [
    ['plain chat', base, chatModel, undefined],
    ['an embedding model', base, { embeddingOnly: true, templateHasTools: false }, /embedding model/],
    ['n > 1', { ...base, n: 2 }, chatModel, /one choice/],
    ['an image', { ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, chatModel, /text only/],
    ['tools without template support', { ...base, tools }, { embeddingOnly: false, templateHasTools: false }, /no tool support/],
    ['tools with support', { ...base, tools }, chatModel, undefined],
    ['tool_choice none ignores tools', { ...base, tools, tool_choice: 'none' }, { embeddingOnly: false, templateHasTools: false }, undefined],
    ['a forced tool', { ...base, tools, tool_choice: 'required' }, chatModel, /cannot be forced/],
    ['tools and a schema', { ...base, tools, response_format: { type: 'json_object' } }, chatModel, /cannot combine/],
    ['json_object', { ...base, response_format: { type: 'json_object' } }, chatModel, undefined],
    ['an unknown format', { ...base, response_format: { type: 'xml' } }, chatModel, /response_format xml/],
  ]
  for (const [what, req, facts, expected] of table) {
    const reason = localCannotServe(req as never, facts as never)
    if (expected) t.match(reason, expected, what)
    else t.equal(reason, undefined, what)
  }
})

t.test('messages → chat history: tool calls carry their results, the model turn is last', async (t) => {
  const history = toHistory([
    { role: 'developer', content: 'be brief' },
    { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'rain' },
  ])
  t.same(history, [
    { type: 'system', text: 'be brief' },
    { type: 'user', text: 'weather?' },
    { type: 'model', response: [{ type: 'functionCall', name: 'weather', params: { city: 'Oslo' }, result: 'rain' }] },
    { type: 'model', response: [] },
  ])
})

t.test('sampling options and finish reasons', async (t) => {
  t.same(samplingOptions({ model: 'm', messages: [], max_completion_tokens: 5, max_tokens: 9, stop: 'x', temperature: 0 }), { maxTokens: 5, temperature: 0, topP: undefined, seed: undefined, stop: ['x'] })
  t.equal(samplingOptions({ model: 'm', messages: [] }).temperature, 0.8, "llama.cpp's default temperature")
  t.same(samplingOptions({ model: 'm', messages: [], stop: ['', 'y'] }).stop, ['y'], 'empty stops dropped')
  t.same(['maxTokens', 'functionCalls', 'eogToken', 'customStopTrigger'].map((r) => finishReason(r as never)), ['length', 'tool_calls', 'stop', 'stop'])
})

t.test('the model id from a path or a URL', async (t) => {
  t.equal(modelIdFrom('/models/Qwen3-1.7B-Q8_0.gguf'), 'Qwen3-1.7B-Q8_0')
  t.equal(modelIdFrom('https://example.com/files/llama.GGUF?download=1'), 'llama')
  t.equal(modelIdFrom('hf:unsloth/Qwen3-1.7B-GGUF:Q4_K_M'), 'Qwen3-1.7B-GGUF-Q4_K_M')
})

t.test('without node-llama-cpp the error names the install command', async (t) => {
  t.match(libraryError({ code: 'ERR_MODULE_NOT_FOUND' }).message, /does not have: run `npm install node-llama-cpp@3\.21\.1`/)
  t.match(libraryError({ message: 'bad ELF' }).message, /failed to load: bad ELF/)
  t.match(progressBar(50, 100), /^\[#{10}-{10}\]\s+50 % of/)
})
