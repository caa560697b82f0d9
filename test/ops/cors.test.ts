// CORS (CORS_ORIGINS) answered as a browser needs it, for the headers the official SDK really
// sends; and security headers on HTML pages only.
import t, { type Test } from 'tap'
import OpenAI from 'openai'
import { startMockServer } from '../mocks/server.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'

/** The request headers the official SDK sends, recorded from a real call (not a hand-kept list). */
async function sdkHeaderNames(t: Test): Promise<string[]> {
  const recorder = await startMockServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [] }))
  })
  t.teardown(() => recorder.close())
  const client = new OpenAI({ baseURL: `${recorder.origin}/v1`, apiKey: 'sk-whatever', maxRetries: 0 })
  await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  const hopByHop = new Set(['host', 'connection', 'content-length', 'accept-encoding', 'user-agent'])
  return Object.keys(recorder.requests[0].headers).filter((name) => !hopByHop.has(name))
}

async function gateway(t: Test, env: Record<string, string> = {}) {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, ...env })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return gw
}

const preflight = (url: string, origin: string, headers: string[]) => fetch(url, {
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers.join(',') },
})

t.test('default CORS_ORIGINS=*: the SDK\'s preflight is answered, even with auth on', async (t) => {
  const sdkHeaders = await sdkHeaderNames(t)
  t.ok(sdkHeaders.includes('authorization') && sdkHeaders.some((h) => h.startsWith('x-stainless-')), `the SDK sends ${sdkHeaders.join(', ')}`)
  const gw = await gateway(t, { GATEWAY_API_KEYS: 'browser-key-1', RATE_LIMIT_MAX: '1' })
  const res = await preflight(`${gw.url}/v1/chat/completions`, 'http://localhost:5173', sdkHeaders)
  t.equal(res.status, 204, 'no key needed for a preflight')
  t.equal(res.headers.get('access-control-allow-origin'), '*')
  t.match(res.headers.get('access-control-allow-methods'), /\bPOST\b/)
  const allowed = res.headers.get('access-control-allow-headers')!.split(',').map((h) => h.trim().toLowerCase())
  for (const header of sdkHeaders) t.ok(allowed.includes(header), `${header} is allowed`)
  t.equal(res.headers.get('access-control-max-age'), '600')
  // A second preflight is not rate limited either (RATE_LIMIT_MAX=1).
  t.equal((await preflight(`${gw.url}/v1/chat/completions`, 'http://localhost:5173', sdkHeaders)).status, 204)
})

t.test('actual requests expose who answered; a 401 and a 429 stay readable cross-origin', async (t) => {
  const gw = await gateway(t, { GATEWAY_API_KEYS: 'browser-key-1', RATE_LIMIT_MAX: '1' })
  const origin = { origin: 'http://localhost:5173' }
  const ok = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...origin, authorization: 'Bearer browser-key-1', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('access-control-allow-origin'), '*')
  const exposed = ok.headers.get('access-control-expose-headers')!.split(',').map((h) => h.trim())
  for (const header of ['x-request-id', 'x-tiergate-provider', 'x-tiergate-tier', 'x-tiergate-attempts', 'x-ratelimit-remaining', 'retry-after']) {
    t.ok(exposed.includes(header), `${header} is exposed`)
  }
  const unauthorized = await fetch(`${gw.url}/v1/models`, { headers: origin })
  t.equal(unauthorized.status, 401)
  t.equal(unauthorized.headers.get('access-control-allow-origin'), '*', 'the 401 carries CORS headers')
  const limited = await fetch(`${gw.url}/v1/models`, { headers: { ...origin, authorization: 'Bearer browser-key-1' } })
  t.equal(limited.status, 429)
  t.equal(limited.headers.get('access-control-allow-origin'), '*', 'the 429 carries CORS headers')
})

t.test('CORS_ORIGINS as a list: listed origins are echoed, others get no CORS headers', async (t) => {
  const gw = await gateway(t, { CORS_ORIGINS: 'https://app.example, https://admin.example' })
  const listed = await preflight(`${gw.url}/v1/chat/completions`, 'https://admin.example', ['content-type', 'authorization'])
  t.equal(listed.status, 204)
  t.equal(listed.headers.get('access-control-allow-origin'), 'https://admin.example')
  t.match(listed.headers.get('vary'), /Origin/i, 'caches keep answers per origin')
  const other = await preflight(`${gw.url}/v1/chat/completions`, 'https://evil.example', ['content-type'])
  t.equal(other.headers.get('access-control-allow-origin'), null)
  const get = await fetch(`${gw.url}/v1/models`, { headers: { origin: 'https://evil.example' } })
  t.equal(get.headers.get('access-control-allow-origin'), null, 'the browser will not hand the answer to that page')
})

t.test('security headers: a CSP and anti-framing on HTML pages, nosniff everywhere', async (t) => {
  const gw = await gateway(t)
  const docs = await fetch(`${gw.url}/docs/`)
  t.match(docs.headers.get('content-type'), /^text\/html/)
  const csp = docs.headers.get('content-security-policy')!
  t.match(csp, /default-src 'self'/)
  t.match(csp, /frame-ancestors 'none'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts only from files of this origin')
  t.notMatch(csp, /unsafe-eval/)
  t.equal(docs.headers.get('x-frame-options'), 'DENY')
  t.equal(docs.headers.get('referrer-policy'), 'no-referrer')
  t.equal(docs.headers.get('x-content-type-options'), 'nosniff')
  const json = await fetch(`${gw.url}/v1/models`)
  t.equal(json.headers.get('x-content-type-options'), 'nosniff')
  t.equal(json.headers.get('content-security-policy'), null, 'API answers carry no page policy')
  t.equal(json.headers.get('x-frame-options'), null)
})

t.test('a stream, written straight to the socket, carries the same headers as any answer', async (t) => {
  const gw = await gateway(t, { RATE_LIMIT_MAX: '100' })
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://localhost:5173' },
    body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/event-stream/)
  t.equal(res.headers.get('x-content-type-options'), 'nosniff', 'the security header the skipped onSend hook would add')
  t.equal(res.headers.get('access-control-allow-origin'), '*', 'CORS')
  t.match(res.headers.get('access-control-expose-headers'), /x-tiergate-provider/)
  t.ok(res.headers.get('x-request-id'), 'the request id')
  t.equal(res.headers.get('x-ratelimit-limit'), '100', 'the rate limit')
  t.equal(res.headers.get('x-tiergate-provider'), 'first', 'the route')
  t.equal(res.headers.get('x-accel-buffering'), 'no')
  t.equal(res.headers.get('content-security-policy'), null)
  t.ok((await res.text()).endsWith('data: [DONE]\n\n'))
})
