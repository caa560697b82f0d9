// Every error answers in the OpenAI envelope with the right status: malformed JSON, schema
// violations, oversized bodies, wrong content types, unknown routes.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

t.test('error envelopes', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, BODY_LIMIT_BYTES: '2048' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const chat = `${gw.url}/v1/chat/completions`
  const envelope = (json: any) => {
    t.same(Object.keys(json), ['error'])
    t.same(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type'])
  }

  let res = await postJson(chat, '{"model": "m", "messages": [')
  t.equal(res.status, 400)
  envelope(res.json)
  t.equal(res.json.error.type, 'invalid_request_error')
  t.equal(res.json.error.code, 'invalid_json')

  res = await postJson(chat, { model: 'm' })
  t.equal(res.status, 400)
  envelope(res.json)
  t.equal(res.json.error.param, 'messages')
  t.match(res.json.error.message, /messages/)

  res = await postJson(chat, { model: 'm', messages: [{ role: 'wizard', content: 'x' }] })
  t.equal(res.status, 400)
  t.match(res.json.error.param, /^messages\.0\.role/)

  res = await postJson(chat, { model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' })
  t.equal(res.status, 400)
  t.equal(res.json.error.param, 'temperature')

  res = await postJson(chat, { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(4096) }] })
  t.equal(res.status, 413)
  envelope(res.json)
  t.equal(res.json.error.code, 'request_too_large')

  const plain = await fetch(chat, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })
  t.equal(plain.status, 415)
  envelope(await plain.json())

  const missing = await fetch(`${gw.url}/v1/nothing-here`)
  t.equal(missing.status, 404)
  const missingBody = await missing.json()
  envelope(missingBody)
  t.equal(missingBody.error.type, 'not_found_error')

  // The SDK maps them to its typed errors.
  t.equal((await gw.client.chat.completions.create({ model: 'm', messages: [] }).catch((e: any) => e)).status, 400)
  t.equal(mock.chatRequests().length, 0, 'nothing invalid reached the upstream')
})

t.test('every response carries x-request-id; a caller-given id is kept', async (t) => {
  const gw = await startGateway({})
  t.teardown(() => gw.close())
  const own = await fetch(`${gw.url}/health`, { headers: { 'x-request-id': 'trace-abc-123' } })
  t.equal(own.headers.get('x-request-id'), 'trace-abc-123')
  const generated = await fetch(`${gw.url}/health`)
  t.match(generated.headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
  const failed = await postJson(`${gw.url}/v1/chat/completions`, { model: 'x', messages: [{ role: 'user', content: 'y' }] })
  t.ok(failed.headers.get('x-request-id'))
  t.match(await (await fetch(`${gw.url}/health`)).json(), { status: 'ok', uptime_s: Number })
})

t.test('an unexpected error becomes a 500 envelope without internals', async (t) => {
  const { toGatewayError } = await import('../../plugins/errors.ts')
  const mapped = toGatewayError(new Error('secret internal detail at /srv/app.ts:12'))
  t.equal(mapped.statusCode, 500)
  t.notMatch(mapped.message, /secret|srv/)
  t.same(Object.keys(mapped.toEnvelope().error).sort(), ['code', 'message', 'param', 'type'])
})
