// Gateway keys (GATEWAY_API_KEYS): /v1/* and /providers need a key, probes and metrics do not,
// and every refusal is a 401 in the OpenAI envelope that the official SDK understands.
import t, { type Test } from 'tap'
import OpenAI from 'openai'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const KEYS = ['tg-alpha-0123456789', 'tg-bravo-9876543210']

async function protectedGateway(t: Test) {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, GATEWAY_API_KEYS: KEYS.join(','), RATE_LIMIT_MAX: '0' }, { apiKey: KEYS[1] })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return { gw, mock }
}

const chatBody = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }

function isUnauthorizedEnvelope(t: Test, res: { status: number; json: any }, message: RegExp) {
  t.equal(res.status, 401)
  t.same(Object.keys(res.json.error).sort(), ['code', 'message', 'param', 'type'])
  t.equal(res.json.error.type, 'authentication_error')
  t.equal(res.json.error.code, 'invalid_api_key')
  t.equal(res.json.error.param, null)
  t.match(res.json.error.message, message)
}

t.test('no key, or a wrong one: 401 in the OpenAI envelope, and the upstream is never called', async (t) => {
  const { gw, mock } = await protectedGateway(t)
  isUnauthorizedEnvelope(t, await postJson(`${gw.url}/v1/chat/completions`, chatBody), /Missing or invalid API key/)
  isUnauthorizedEnvelope(t, await postJson(`${gw.url}/v1/chat/completions`, chatBody, { authorization: 'Bearer tg-alpha-012345678' }), /Invalid API key/)
  isUnauthorizedEnvelope(t, await postJson(`${gw.url}/v1/chat/completions`, chatBody, { 'x-api-key': 'nope' }), /Invalid API key/)
  // A key that only shares a prefix with a real one, or the real one with a suffix, is wrong.
  isUnauthorizedEnvelope(t, await postJson(`${gw.url}/v1/chat/completions`, chatBody, { authorization: `Bearer ${KEYS[0]}x` }), /Invalid API key/)
  t.equal(mock.chatRequests().length, 0)
  // The official SDK turns it into its AuthenticationError.
  const wrong = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'wrong-key', maxRetries: 0 })
  const err = await wrong.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
  t.ok(err instanceof OpenAI.AuthenticationError, 'an AuthenticationError')
  t.match(err, { status: 401, code: 'invalid_api_key', type: 'authentication_error' })
})

t.test('Bearer (any case) and x-api-key are accepted, for every configured key', async (t) => {
  const { gw } = await protectedGateway(t)
  const answer = await gw.client.chat.completions.create(chatBody as never)
  t.equal(answer.choices[0].message.content, 'Hello from mock', 'the SDK with a gateway key gets its answer')
  const accepted: Array<Record<string, string>> = [
    { authorization: `Bearer ${KEYS[0]}` },
    { authorization: `bearer ${KEYS[1]}` },
    { 'x-api-key': KEYS[0] },
  ]
  for (const headers of accepted) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody, headers)
    t.equal(res.status, 200, JSON.stringify(Object.keys(headers)))
  }
  // Anthropic-style clients send x-api-key; the SDK's Authorization header is not required.
  const models = await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': KEYS[1] } })
  t.equal(models.status, 200)
})

t.test('/v1/* and /providers are protected; /health, /health/ready, /metrics and /docs stay open', async (t) => {
  const { gw } = await protectedGateway(t)
  for (const path of ['/v1/models', '/v1/models/gpt-4o-mini', '/providers', '/v1/no-such-route']) {
    t.equal((await fetch(`${gw.url}${path}`)).status, 401, `${path} without a key`)
  }
  t.equal((await fetch(`${gw.url}/providers`, { headers: { authorization: `Bearer ${KEYS[0]}` } })).status, 200, '/providers with a key')
  for (const path of ['/health', '/health/ready', '/metrics', '/docs/json']) {
    t.equal((await fetch(`${gw.url}${path}`)).status, 200, `${path} without a key`)
  }
})

t.test('percent-escaped paths reach the same routes and are protected the same', async (t) => {
  const { gw } = await protectedGateway(t)
  // The router decodes %-escapes: /%70roviders IS /providers, so it must need the key too.
  for (const path of ['/%70roviders', '/%761/models', '/v1/%6dodels/gpt-4o-mini']) {
    const res = await fetch(`${gw.url}${path}`)
    t.equal(res.status, 401, `${path} without a key`)
    t.equal((await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${KEYS[0]}` } })).status, 200, `${path} with a key reaches the route`)
  }
})

t.test('without GATEWAY_API_KEYS everything is open and no client key id is set', async (t) => {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  t.equal((await fetch(`${gw.url}/providers`)).status, 200)
  t.equal((await postJson(`${gw.url}/v1/chat/completions`, chatBody)).status, 200)
})

t.test('gateway keys never reach the upstream, the logs or the answer', async (t) => {
  const { gw, mock } = await protectedGateway(t)
  const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody, { authorization: `Bearer ${KEYS[0]}` })
  t.equal(res.status, 200)
  const upstream = mock.chatRequests()[0]
  t.notMatch(JSON.stringify(upstream.headers), KEYS[0], 'the gateway key is not forwarded upstream')
  await postJson(`${gw.url}/v1/chat/completions`, chatBody, { authorization: `Bearer ${KEYS[0]}-wrong` })
  for (const key of KEYS) t.notOk(gw.logs.some((line) => line.includes(key)), 'no log line carries a gateway key')
  t.notMatch(res.text, KEYS[0])
})
