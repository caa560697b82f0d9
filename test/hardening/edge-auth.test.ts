// Issue 9 item 13: failed authentication is limited per IP (AUTH_FAILURE_LIMIT per minute),
// refused with 429 + Retry-After in the OpenAI envelope, before any key is compared — so even
// the right key waits out the window. Plus: the gateway key from `x-api-key` (Anthropic clients).
import t, { type Test } from 'tap'
import http from 'node:http'
import OpenAI from 'openai'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { AuthFailureLimiter, AUTH_FAILURE_WINDOW_MS } from '../../plugins/auth-failures.ts'

const KEY = 'gw-auth-limit-key-0001'
const chatBody = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }

async function gateway(t: Test, env: Record<string, string> = {}) {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, GATEWAY_API_KEYS: KEY, RATE_LIMIT_MAX: '0', ...env })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return { gw, mock }
}

/** GET from another loopback address (127.0.0.2): another client IP. */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, headers }, (res) => { res.resume(); resolve(res.statusCode!) })
    req.on('error', reject)
  })
}

t.test('past AUTH_FAILURE_LIMIT failures an IP gets 429 with Retry-After, even with the right key; other IPs do not', async (t) => {
  const { gw, mock } = await gateway(t, { AUTH_FAILURE_LIMIT: '5' })
  const wrong = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'guess-0', maxRetries: 0 })
  for (let i = 0; i < 5; i++) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, chatBody, i % 2 ? { authorization: `Bearer guess-${i}` } : {})
    t.equal(res.status, 401, `failure ${i + 1} is a 401`)
  }
  const err = await wrong.chat.completions.create(chatBody as never).catch((e: unknown) => e)
  t.ok(err instanceof OpenAI.RateLimitError, 'the SDK sees a RateLimitError')
  t.match(err, { status: 429, type: 'rate_limit_error', code: 'too_many_auth_failures' })
  const limited = await postJson(`${gw.url}/v1/chat/completions`, chatBody, { authorization: `Bearer ${KEY}` })
  t.equal(limited.status, 429, 'the right key is refused too: the limit comes before any comparison')
  t.same(Object.keys(limited.json.error).sort(), ['code', 'message', 'param', 'type'], 'the OpenAI envelope')
  const retryAfter = Number(limited.headers.get('retry-after'))
  t.ok(retryAfter >= 1 && retryAfter <= AUTH_FAILURE_WINDOW_MS / 1000, `Retry-After ${retryAfter} s, within the window`)
  t.equal(mock.chatRequests().length, 0, 'nothing reached an upstream')

  t.equal(await getFrom('127.0.0.2', `${gw.url}/v1/models`, { authorization: `Bearer ${KEY}` }), 200, 'another IP is not affected')
  // Unprotected routes stay open to everyone.
  t.equal((await fetch(`${gw.url}/health`)).status, 200)
})

t.test('the default limit (30) applies; AUTH_FAILURE_LIMIT=0 turns it off', async (t) => {
  const limited = await gateway(t)
  const statuses: number[] = []
  for (let i = 0; i < 31; i++) statuses.push((await fetch(`${limited.gw.url}/v1/models`, { headers: { 'x-api-key': `guess-${i}` } })).status)
  t.same(statuses, [...Array(30).fill(401), 429], '30 failures, then 429')

  const open = await gateway(t, { AUTH_FAILURE_LIMIT: '0' })
  for (let i = 0; i < 40; i++) {
    const status = (await fetch(`${open.gw.url}/v1/models`, { headers: { 'x-api-key': `guess-${i}` } })).status
    if (status !== 401) t.fail(`guess ${i}: ${status}`)
  }
  t.equal((await fetch(`${open.gw.url}/v1/models`, { headers: { 'x-api-key': KEY } })).status, 200)
})

t.test('x-api-key carries the gateway key (Anthropic clients send it instead of Authorization)', async (t) => {
  const { gw } = await gateway(t)
  t.equal((await postJson(`${gw.url}/v1/chat/completions`, chatBody, { 'x-api-key': KEY })).status, 200)
  t.equal((await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': KEY } })).status, 200)
  t.equal((await fetch(`${gw.url}/v1/models`, { headers: { 'x-api-key': `${KEY}-not` } })).status, 401)
  // The official OpenAI SDK pointed at the gateway with the key sent as x-api-key only.
  const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'not-the-key', maxRetries: 0, defaultHeaders: { authorization: null as never, 'x-api-key': KEY } })
  const answer = await sdk.chat.completions.create(chatBody as never)
  t.equal(answer.choices[0].message.content, 'Hello from mock')
})

t.test('AuthFailureLimiter: fixed window per IP, bounded memory', async (t) => {
  const limiter = new AuthFailureLimiter(3, 1000, 2)
  const table: Array<[string, 'fail' | 'check', number, number]> = [
    // [ip, action, now, expected retryAfterMs (check) ]
    ['a', 'check', 0, 0],
    ['a', 'fail', 0, 0],
    ['a', 'fail', 100, 0],
    ['a', 'check', 200, 0],
    ['a', 'fail', 300, 0],
    ['a', 'check', 300, 700],
    ['a', 'check', 999, 1],
    ['a', 'check', 1000, 0], // the window is over
    ['a', 'fail', 1000, 0],
    ['a', 'check', 1001, 0],
  ]
  for (const [ip, action, now, expected] of table) {
    if (action === 'fail') limiter.recordFailure(ip, now)
    else t.equal(limiter.retryAfterMs(ip, now), expected, `${ip} at ${now}`)
  }
  limiter.recordFailure('b', 1001)
  limiter.recordFailure('c', 1002)
  t.equal(limiter.trackedIps, 2, 'never more than maxTracked IPs')
  t.equal(new AuthFailureLimiter(0).retryAfterMs('x'), 0, 'limit 0: off')
})
