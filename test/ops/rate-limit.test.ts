// Rate limiting in memory: RATE_LIMIT_MAX per RATE_LIMIT_WINDOW per client (its gateway key,
// else its IP), budget headers on every limited answer, 429 in the OpenAI envelope with
// Retry-After, probes/metrics/docs/preflights exempt.
import t, { type Test } from 'tap'
import OpenAI from 'openai'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'

async function limitedGateway(t: Test, env: Record<string, string>) {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, ...env })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return { gw, mock }
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers })

t.test('budget headers count down, then 429 in the OpenAI envelope with Retry-After', async (t) => {
  const { gw } = await limitedGateway(t, { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '1 minute' })
  for (const remaining of ['2', '1', '0']) {
    const res = await get(`${gw.url}/v1/models`)
    t.equal(res.status, 200)
    t.equal(res.headers.get('x-ratelimit-limit'), '3')
    t.equal(res.headers.get('x-ratelimit-remaining'), remaining)
    const reset = Number(res.headers.get('x-ratelimit-reset'))
    t.ok(reset > 0 && reset <= 60, `x-ratelimit-reset ${reset} is within the window`)
  }
  const refused = await get(`${gw.url}/v1/models`)
  t.equal(refused.status, 429)
  const retryAfter = Number(refused.headers.get('retry-after'))
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter} s`)
  t.equal(refused.headers.get('x-ratelimit-remaining'), '0')
  t.match(refused.headers.get('content-type'), /^application\/json/)
  const body = await refused.json() as any
  t.same(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type'])
  t.match(body.error, { type: 'rate_limit_error', code: 'rate_limit_exceeded', param: null, message: /3 requests per 1 minute/ })
  // The official SDK sees a RateLimitError (and, with retries on, would honour Retry-After).
  const err = await gw.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
  t.ok(err instanceof OpenAI.RateLimitError, 'a RateLimitError for the SDK')
  t.match(err, { status: 429, code: 'rate_limit_exceeded' })
  // The refusal is counted for the operator.
  const metrics = await (await get(`${gw.url}/metrics`)).text()
  t.match(metrics, /^tiergate_rate_limited_requests_total\{route="\/v1\/models"\} 1$/m)
  t.match(metrics, /^tiergate_rate_limited_requests_total\{route="\/v1\/chat\/completions"\} 1$/m)
  t.match(metrics, /^tiergate_http_requests_total\{route="\/v1\/models",method="GET",status="429"\} 1$/m)
})

t.test('only the API is limited: probes, metrics, docs, static files and CORS preflights are not', async (t) => {
  const { gw } = await limitedGateway(t, { RATE_LIMIT_MAX: '2' })
  for (let i = 0; i < 4; i++) {
    for (const path of ['/health', '/health/ready', '/metrics', '/docs/json', '/docs/', '/docs/static/swagger-ui.css']) {
      const res = await get(`${gw.url}${path}`)
      t.equal(res.status, 200, `${path} #${i + 1}`)
      t.equal(res.headers.get('x-ratelimit-limit'), null, `${path} carries no budget`)
    }
    const preflight = await fetch(`${gw.url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } })
    t.equal(preflight.status, 204)
  }
  // None of that used the budget.
  t.equal((await get(`${gw.url}/v1/models`)).headers.get('x-ratelimit-remaining'), '1')
  t.equal((await get(`${gw.url}/v1/models`)).status, 200)
  t.equal((await get(`${gw.url}/v1/models`)).status, 429)
  t.equal((await get(`${gw.url}/health`)).status, 200, 'a limited client can still be probed')
})

t.test('keyed by gateway key: auth runs first, so two keys behind one IP have two budgets', async (t) => {
  const { gw } = await limitedGateway(t, { RATE_LIMIT_MAX: '2', GATEWAY_API_KEYS: 'key-alpha-1,key-bravo-2' })
  const alpha = { authorization: 'Bearer key-alpha-1' }
  const bravo = { 'x-api-key': 'key-bravo-2' }
  t.equal((await get(`${gw.url}/v1/models`, alpha)).status, 200)
  t.equal((await get(`${gw.url}/v1/models`, alpha)).status, 200)
  t.equal((await get(`${gw.url}/v1/models`, alpha)).status, 429, 'alpha is over its budget')
  const other = await get(`${gw.url}/v1/models`, bravo)
  t.equal(other.status, 200, 'bravo, from the same IP, still has its own')
  t.equal(other.headers.get('x-ratelimit-remaining'), '1')
  // A request without a key is refused by auth (401), not counted against anyone.
  t.equal((await get(`${gw.url}/v1/models`)).status, 401)
  t.equal((await get(`${gw.url}/v1/models`, bravo)).headers.get('x-ratelimit-remaining'), '0')
})

t.test('without a key the client is its IP: API routes share one budget, however spelled', async (t) => {
  const { gw } = await limitedGateway(t, { RATE_LIMIT_MAX: '3' })
  t.equal((await get(`${gw.url}/v1/models`)).status, 200)
  t.equal((await get(`${gw.url}/v1/models`)).status, 200)
  t.equal((await get(`${gw.url}/%761/models`)).headers.get('x-ratelimit-remaining'), '0', 'a %-escaped path is the same route, counted')
  t.equal((await get(`${gw.url}/v1/models/gpt-4o-mini`)).status, 429, 'another route does not get a fresh budget')
})

t.test('the status page polling GET /providers does not eat the budget', async (t) => {
  const { gw } = await limitedGateway(t, { RATE_LIMIT_MAX: '2' })
  for (let i = 0; i < 5; i++) t.equal((await get(`${gw.url}/providers`)).status, 200, `poll ${i + 1}`)
  const api = await get(`${gw.url}/v1/models`)
  t.equal(api.status, 200)
  t.equal(api.headers.get('x-ratelimit-remaining'), '1', 'the API budget is untouched by the polls')
})

t.test('the budget comes back when the window ends', async (t) => {
  const { gw } = await limitedGateway(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '1 s' })
  t.equal((await get(`${gw.url}/v1/models`)).status, 200)
  t.equal((await get(`${gw.url}/v1/models`)).status, 429)
  const deadline = Date.now() + 5000
  let status = 429
  while (status === 429 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    status = (await get(`${gw.url}/v1/models`)).status
  }
  t.equal(status, 200, 'a new window, a new budget')
})

t.test('RATE_LIMIT_MAX=0 turns rate limiting off', async (t) => {
  const { gw } = await limitedGateway(t, { RATE_LIMIT_MAX: '0' })
  for (let i = 0; i < 5; i++) {
    const res = await get(`${gw.url}/v1/models`)
    t.equal(res.status, 200)
    t.equal(res.headers.get('x-ratelimit-limit'), null)
  }
})

t.test('a bad RATE_LIMIT_WINDOW stops start-up, naming the variable', async (t) => {
  await t.rejects(startGateway({ RATE_LIMIT_WINDOW: 'a while' }), /RATE_LIMIT_WINDOW must be a duration/)
})
