// The local model's bounded queue, abort and fallback: LOCAL_MAX_CONCURRENCY requests generate
// at once, LOCAL_QUEUE_MAX wait, one more is "busy" and the router falls through to the next
// tier; a client that leaves stops its generation at once and frees the slot.
import t from 'tap'
import { startLocalGateway, localStatus, tinyModelFile, LOCAL_TEST_ENV } from './fixture.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

/** A generation that runs until aborted (the tiny model never ends on its own). */
const endless = { model: 'tiny', messages: [{ role: 'user', content: 'go on forever' }], max_tokens: 1_000_000, stream: true }

/**
 * Opens a stream, reads its first event and keeps reading (a client that reads: a stalled
 * reader would leave the gateway's write blocked after the client is gone, see the report);
 * the caller aborts it.
 */
async function openStream(url: string) {
  const controller = new AbortController()
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(endless), signal: controller.signal })
  const reader = res.body!.getReader()
  const first = new TextDecoder().decode((await reader.read()).value)
  void (async () => { while (!(await reader.read()).done); })().catch(() => undefined)
  return { res, first, abort: () => controller.abort() }
}

t.test('a client that leaves stops the generation at once and frees the slot', async (t) => {
  const gw = await startLocalGateway(t, { LOCAL_MAX_CONCURRENCY: '1', LOCAL_QUEUE_MAX: '0' })
  const stream = await openStream(gw.url)
  t.equal(stream.res.headers.get('x-tiergate-provider'), 'local')
  t.match(stream.first, /"content":"a/)
  t.equal((await localStatus(gw)).details.queue.active, 1, 'generating')
  stream.abort()
  await waitFor(async () => (await localStatus(gw)).details.queue.active === 0, 'the slot to be released')
  const next = await gw.client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
  t.equal(next.choices[0].message.content, 'abcd', 'the next request gets the model')
})

t.test('beyond LOCAL_MAX_CONCURRENCY + LOCAL_QUEUE_MAX the local model is busy: 503 naming it, never a wait', async (t) => {
  const gw = await startLocalGateway(t, { LOCAL_MAX_CONCURRENCY: '1', LOCAL_QUEUE_MAX: '0' })
  const stream = await openStream(gw.url)
  const refused = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'me too' }], max_tokens: 3 })
  t.equal(refused.status, 503)
  t.equal(refused.json.error.code, 'all_providers_failed')
  t.match(refused.json.error.message, /local \(tier 4\): busy: 1 generating, 0 waiting/)
  t.equal((await localStatus(gw)).breaker.state, 'closed', 'busy does not count against the breaker')
  // An open stream would hold the gateway's close (graceful shutdown waits for it).
  stream.abort()
})

t.test('a queued request waits for the slot and is answered; one beyond the queue falls through', async (t) => {
  const gw = await startLocalGateway(t, { LOCAL_MAX_CONCURRENCY: '1', LOCAL_QUEUE_MAX: '1' })
  const stream = await openStream(gw.url)
  const queued = postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'wait' }], max_tokens: 3 })
  await waitFor(async () => (await localStatus(gw)).details.queue.waiting === 1, 'one request in the queue')
  const refused = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'no room' }], max_tokens: 3 })
  t.equal(refused.status, 503, 'the queue is full')
  stream.abort()
  const answered = await queued
  t.equal(answered.status, 200)
  t.equal(answered.json.choices[0].message.content, 'abc')
})

t.test('a busy local model falls through to the next tier', async (t) => {
  const backup = await startOpenAIMock({ models: ['tiny'] })
  backup.fallback = { content: 'from the cloud' }
  const gw = await startGateway({
    ...LOCAL_TEST_ENV, LOCAL_MODEL_PATH: tinyModelFile(t), LOCAL_MAX_CONCURRENCY: '1', LOCAL_QUEUE_MAX: '0',
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '5',
  })
  t.teardown(async () => { await gw.close(); await backup.close() })
  const stream = await openStream(gw.url)
  t.equal(stream.res.headers.get('x-tiergate-provider'), 'local', 'tier 4 answers first')
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  t.equal(res.headers.get('x-tiergate-tier'), '5')
  t.equal(res.json.choices[0].message.content, 'from the cloud')
  stream.abort()
})

t.test('requests the local model cannot serve go to the next tier; with nothing else, 503 says why', async (t) => {
  const gw = await startLocalGateway(t)
  const tools = [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }]
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'time?' }], tools })
  t.equal(res.status, 503)
  t.match(res.json.error.message, /chat template has no tool support/)
  const many = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'x' }], n: 2 })
  t.match(many.json.error.message, /one choice/)
  const none = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'x' }], tools, tool_choice: 'none', max_tokens: 2 })
  t.equal(none.json.choices[0].message.content, 'ab', 'tool_choice none: answered without tools')
})

t.test('a chat template that knows tools gets the request', async (t) => {
  const template = "{% if tools %}{{ '<|im_start|>system\\nTools: ' + (tools | tojson) + '<|im_end|>\\n' }}{% endif %}{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
  const gw = await startLocalGateway(t, {}, tinyModelFile(t, 'tiny', { template }))
  const tools = [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }]
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'time?' }], tools, max_tokens: 5 })
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'local')
  t.equal(res.json.choices[0].finish_reason, 'length', 'the tiny model writes letters, not a call')
})

t.test('response_format json_object constrains the output to JSON', async (t) => {
  const gw = await startLocalGateway(t)
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny', messages: [{ role: 'user', content: 'json please' }], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { answer: { enum: ['yes', 'no'] } }, required: ['answer'], additionalProperties: false } } }, max_tokens: 60 })
  t.equal(res.status, 200)
  const parsed = JSON.parse(res.json.choices[0].message.content)
  t.ok(['yes', 'no'].includes(parsed.answer), `follows the schema: ${res.json.choices[0].message.content}`)
})

t.test('close() frees the model while a generation runs', async (t) => {
  const gw = await startGateway({ ...LOCAL_TEST_ENV, LOCAL_MODEL_PATH: tinyModelFile(t) })
  const stream = await openStream(gw.url)
  t.match(stream.first, /"content":"a/)
  const provider = gw.app.providers.get('local')!.provider
  t.equal(provider.status!().state, 'ready')
  const closing = gw.close()
  // What server.ts does when SHUTDOWN_GRACE_MS is over: the endless stream is cut.
  gw.app.server.closeAllConnections()
  await closing
  t.equal(provider.status!().state, 'not_loaded', 'the model is released')
  t.same(provider.status!().queue, { active: 0, waiting: 0, slots: 1, queueMax: 8 }, 'no generation left running')
  stream.abort()
})

