// Upstream API keys never appear in a response, an error message or a log line — even when
// the upstream echoes the key back in its 401 message.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

t.test('keys are redacted from responses and logs', async (t) => {
  const key = 'sk-live-9f8e7d6c5b4a39281706'
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_API_KEY: key, LOG_LEVEL: 'debug' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  mock.script({ fault: 'status', status: 401, body: { error: { message: `Incorrect API key provided: ${key}. You can find your API key at …`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${key}` })
  t.equal(res.status, 503)
  t.match(res.json.error.message, /HTTP 401/)
  t.notMatch(res.text, key)
  t.match(res.text, /REDACTED/)
  // The key did reach the upstream (that is its job)…
  t.equal(mock.chatRequests()[0].headers.authorization, `Bearer ${key}`)
  // …and no log line has it, including the request log with the caller's Authorization header.
  t.ok(gw.logs.length > 0)
  t.notOk(gw.logs.some((l) => l.includes(key)), 'no log line carries the key')
  t.ok(gw.logs.some((l) => l.includes('upstream attempt failed')), 'the failure was logged')
  const status = await (await fetch(`${gw.url}/providers`)).text()
  t.notMatch(status, key)
  t.notMatch(status, key.slice(0, 12))
})

t.test('key-shaped strings from an upstream are masked even if not configured', async (t) => {
  const { createRedactor } = await import('../../plugins/redact.ts')
  const redact = createRedactor([])
  t.equal(redact('bad key sk-proj-abcdefghijklmnop given'), 'bad key [REDACTED] given')
  t.equal(redact('Incorrect API key provided: sk-abc12***********wxyz.'), 'Incorrect API key provided: [REDACTED].')
  t.equal(redact('no key here, just a skeleton'), 'no key here, just a skeleton')
})
