// Every error on /v1/messages and /v1/messages/count_tokens is Anthropic's envelope
// {"type":"error","error":{"type","message"}} with Anthropic's status and a request-id header —
// also the ones hooks produce (schema validation, body parsing and size, gateway auth, rate
// limit); all providers failed is 529 overloaded_error; the Anthropic SDK raises the matching
// error classes. The Chat Completions route keeps the OpenAI envelope.
import t, { type Test } from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startAnthropicMock, anthropicError } from '../mocks/anthropic.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const MODEL = 'claude-haiku-4-5'
const KEY = 'gw-anthropic-client-key'
const message = { model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }

async function setup(t: Test, env: Record<string, string> = {}) {
  const upstream = await startOpenAIMock({ models: [MODEL] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: upstream.baseUrl, ...env })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  return { upstream, gw }
}

/** Asserts Anthropic's envelope, status, type and request-id header; returns the message. */
function anthropicEnvelope(t: Test, res: { status: number; headers: Headers; json: any }, status: number, type: string): string {
  t.equal(res.status, status, `status ${status}`)
  t.same(Object.keys(res.json ?? {}), ['type', 'error'], 'exactly {type, error}')
  t.equal(res.json?.type, 'error')
  t.equal(res.json?.error?.type, type, type)
  t.same(Object.keys(res.json?.error ?? {}), ['type', 'message'])
  t.ok(res.headers.get('request-id'), 'request-id header')
  t.equal(res.headers.get('request-id'), res.headers.get('x-request-id'), 'the same id as x-request-id')
  return res.json?.error?.message
}

t.test('schema validation, JSON parsing, content type: 400 invalid_request_error', async (t) => {
  const { gw, upstream } = await setup(t)
  const url = `${gw.url}/v1/messages`
  t.match(anthropicEnvelope(t, await postJson(url, { model: MODEL, messages: message.messages }), 400, 'invalid_request_error'), /max_tokens/)
  anthropicEnvelope(t, await postJson(url, { ...message, messages: [{ role: 'system', content: 'x' }] }), 400, 'invalid_request_error')
  anthropicEnvelope(t, await postJson(url, { ...message, temperature: 1.5 }), 400, 'invalid_request_error')
  anthropicEnvelope(t, await postJson(url, '{"model": "x", '), 400, 'invalid_request_error')
  anthropicEnvelope(t, await postJson(`${gw.url}/v1/messages/count_tokens`, { model: MODEL }), 400, 'invalid_request_error')
  const text = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' })
  t.equal(text.status, 415)
  t.equal((await text.json()).error.type, 'invalid_request_error')
  t.equal(upstream.chatRequests().length, 0, 'nothing went upstream')
})

t.test('an unknown model is 404 not_found_error; a body over BODY_LIMIT_BYTES is 413 request_too_large', async (t) => {
  const { gw } = await setup(t, { BODY_LIMIT_BYTES: '2048' })
  t.match(anthropicEnvelope(t, await postJson(`${gw.url}/v1/messages`, { ...message, model: 'no-such-model' }), 404, 'not_found_error'), /no-such-model/)
  anthropicEnvelope(t, await postJson(`${gw.url}/v1/messages/count_tokens`, { model: 'no-such-model', messages: message.messages }), 404, 'not_found_error')
  anthropicEnvelope(t, await postJson(`${gw.url}/v1/messages`, { ...message, messages: [{ role: 'user', content: 'x'.repeat(4096) }] }), 413, 'request_too_large')
})

t.test('gateway auth: x-api-key (as Anthropic clients send it) is accepted; a missing or wrong key is 401 authentication_error', async (t) => {
  const { gw } = await setup(t, { GATEWAY_API_KEYS: KEY })
  const url = `${gw.url}/v1/messages`
  anthropicEnvelope(t, await postJson(url, message), 401, 'authentication_error')
  anthropicEnvelope(t, await postJson(url, message, { 'x-api-key': 'wrong-key' }), 401, 'authentication_error')
  t.equal((await postJson(url, message, { 'x-api-key': KEY })).status, 200)
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: KEY, maxRetries: 0 })
  t.equal((await sdk.messages.create(message as Anthropic.MessageCreateParamsNonStreaming)).type, 'message', 'the SDK with ANTHROPIC_API_KEY = a gateway key')
  const rejected = new Anthropic({ baseURL: gw.url, apiKey: 'wrong-key', maxRetries: 0 })
  await t.rejects(rejected.messages.create(message as Anthropic.MessageCreateParamsNonStreaming), Anthropic.AuthenticationError)
  // The OpenAI route keeps its own envelope.
  const openai = await postJson(`${gw.url}/v1/chat/completions`, { model: MODEL, messages: message.messages })
  t.equal(openai.status, 401)
  t.same(Object.keys(openai.json.error).sort(), ['code', 'message', 'param', 'type'])
})

t.test('the rate limiter\'s 429 is rate_limit_error with retry-after', async (t) => {
  const { gw } = await setup(t, { RATE_LIMIT_MAX: '1' })
  t.equal((await postJson(`${gw.url}/v1/messages`, message)).status, 200)
  const limited = await postJson(`${gw.url}/v1/messages`, message)
  anthropicEnvelope(t, limited, 429, 'rate_limit_error')
  t.ok(Number(limited.headers.get('retry-after')) >= 1, 'retry-after')
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: 'x', maxRetries: 0 })
  await t.rejects(sdk.messages.create(message as Anthropic.MessageCreateParamsNonStreaming), Anthropic.RateLimitError)
})

t.test('all providers failed: 529 overloaded_error (the SDK\'s InternalServerError/overloaded); all rate-limited: 429 with retry-after', async (t) => {
  const { gw, upstream } = await setup(t)
  upstream.fallback = { fault: 'status', status: 503 }
  const failed = await postJson(`${gw.url}/v1/messages`, message)
  t.match(anthropicEnvelope(t, failed, 529, 'overloaded_error'), /All providers failed/)
  const streamed = await postJson(`${gw.url}/v1/messages`, { ...message, stream: true })
  anthropicEnvelope(t, streamed, 529, 'overloaded_error')
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: 'x', maxRetries: 0 })
  const err = await sdk.messages.create(message as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e) as InstanceType<typeof Anthropic.APIError>
  t.ok(err instanceof Anthropic.APIError)
  t.equal(err.status, 529)
  t.equal((err.error as any)?.error?.type, 'overloaded_error')

  upstream.fallback = { fault: 'status', status: 429, headers: { 'retry-after': '30' }, body: { error: { message: 'slow down', type: 'rate_limit', param: null, code: null } } }
  const limited = await postJson(`${gw.url}/v1/messages`, message)
  anthropicEnvelope(t, limited, 429, 'rate_limit_error')
  t.ok(Number(limited.headers.get('retry-after')) >= 1)
})

t.test('an upstream\'s own 400 is relayed as invalid_request_error, naming the provider', async (t) => {
  const anthropic = await startAnthropicMock({ models: [MODEL] })
  const gw = await startGateway({ ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl })
  t.teardown(async () => { await gw.close(); await anthropic.close() })
  anthropic.script(anthropicError(400, 'invalid_request_error', 'messages.1: thinking blocks cannot be modified'))
  const res = await postJson(`${gw.url}/v1/messages`, message)
  t.match(anthropicEnvelope(t, res, 400, 'invalid_request_error'), /anthropic rejected the request: .*thinking blocks cannot be modified/)
  t.notMatch(JSON.stringify(res.json), anthropic.apiKey, 'no key in the error')
  const sdk = new Anthropic({ baseURL: gw.url, apiKey: 'x', maxRetries: 0 })
  anthropic.script(anthropicError(400, 'invalid_request_error', 'bad'))
  await t.rejects(sdk.messages.create(message as Anthropic.MessageCreateParamsNonStreaming), Anthropic.BadRequestError)
})

t.test('any anthropic-version is accepted (or none), ?beta=true too; answers carry request-id', async (t) => {
  const { gw } = await setup(t)
  for (const version of ['2023-06-01', '2026-10-21', 'banana']) {
    const res = await postJson(`${gw.url}/v1/messages`, message, { 'anthropic-version': version })
    t.equal(res.status, 200, `anthropic-version ${version}`)
    t.ok(res.headers.get('request-id'))
  }
  t.equal((await postJson(`${gw.url}/v1/messages`, message)).status, 200, 'no version header at all')
  // Claude Code calls the beta variants of both routes.
  t.equal((await postJson(`${gw.url}/v1/messages?beta=true`, message, { 'anthropic-beta': 'claude-code-20250219' })).status, 200, '/v1/messages?beta=true')
  t.equal((await postJson(`${gw.url}/v1/messages/count_tokens?beta=true`, { model: MODEL, messages: message.messages })).status, 200, 'count_tokens?beta=true')
})
