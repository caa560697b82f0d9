// Issue 9 items 1–4: no key material reaches a client, a log line or /providers — whatever
// field of an upstream error carries it (message, code, type, param), wherever a cut falls,
// whatever shape the key has, and when a client puts its key in the query string.
import t from 'tap'
import OpenAI from 'openai'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'

// Keys of several shapes. Only the first is caught by the key-shape patterns; the others are
// protected by exact-match redaction alone (so removing it fails this file).
const SHAPES: Record<string, string> = {
  'OpenAI sk-': 'sk-proj-AbCdEf0123456789ZyXwVuQp',
  'Mistral-style 32 alnum': 'Xq7LmN2pR9sT4vW6yZ8aB1cD3eF5gH0j',
  'custom, arbitrary characters': 'hunter2.custom-KEY/with+symbols=(x)|y',
  'short custom token': 'tok-9z8y7x',
}
const GATEWAY_KEY = 'gw-Secret-Qw3rTy-7788-UiOp'

/** Every place key material could surface: the answer, every log line, the status page. */
async function surfaces(gw: Gateway, answer: string): Promise<string[]> {
  const status = await (await fetch(`${gw.url}/providers`, { headers: { authorization: `Bearer ${GATEWAY_KEY}` } })).text()
  return [answer, status, ...gw.logs]
}

function leaks(texts: string[], secret: string, minChars = 6): string | undefined {
  // Any run of `minChars` characters of the key counts as a leak (a prefix, a suffix, the middle).
  for (let i = 0; i + minChars <= secret.length; i++) {
    const piece = secret.slice(i, i + minChars)
    const hit = texts.find((text) => text.includes(piece))
    if (hit) return `${JSON.stringify(piece)} in ${hit.slice(0, 300)}`
  }
  return undefined
}

const chat = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] }

for (const [shape, key] of Object.entries(SHAPES)) {
  t.test(`a ${shape} key echoed in every field of an upstream 400 never leaves the gateway`, async (t) => {
    const mock = await startOpenAIMock({ models: ['m'] })
    const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_API_KEY: key, P_MODELS: 'm', GATEWAY_API_KEYS: GATEWAY_KEY, LOG_LEVEL: 'debug' }, { apiKey: GATEWAY_KEY })
    t.teardown(async () => { await gw.close(); await mock.close() })
    for (const status of [400, 413, 422]) {
      mock.script({
        fault: 'status', status,
        body: { error: { message: `Header was Authorization: Bearer ${key}`, type: `Bearer ${key}`, param: key, code: `Bearer ${key}` } },
      })
      const err = await gw.client.chat.completions.create(chat).catch((e: unknown) => e) as InstanceType<typeof OpenAI.APIError>
      t.ok(err instanceof OpenAI.APIError, `${status}: the SDK raises an APIError`)
      t.equal(err.status, status, 'the client fault is relayed with its status')
      t.match(String(err.code), /REDACTED/, 'the relayed code is redacted, not the echoed header')
      const leak = leaks(await surfaces(gw, JSON.stringify({ message: err.message, code: err.code, type: err.type, param: err.param })), key)
      t.notOk(leak, `${status}: no piece of the key anywhere (${leak})`)
    }
    t.equal(mock.chatRequests()[0].headers.authorization, `Bearer ${key}`, 'the key did reach its upstream')
  })
}

t.test('a key straddling the 300-character cut of an upstream message: redacted before the cut, and /providers shows a hash only', async (t) => {
  const key = SHAPES['Mistral-style 32 alnum']
  const mock = await startOpenAIMock({ models: ['m'] })
  const next = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'p,q', P_BASE_URL: mock.baseUrl, P_API_KEY: key, P_MODELS: 'm', PROVIDER_PRIORITY_P: '1',
    Q_BASE_URL: next.baseUrl, Q_MODELS: 'm', PROVIDER_PRIORITY_Q: '2', LOG_LEVEL: 'debug',
  })
  t.teardown(async () => { await gw.close(); await mock.close(); await next.close() })
  // Wherever the cut falls inside the key, no prefix of it survives: 300 chars are kept today.
  for (const before of [280, 290, 295, 299]) {
    mock.script({ fault: 'status', status: 500, body: { error: { message: `${'x'.repeat(before)}${key} and more`, type: 'server_error' } } })
    const res = await postJson(`${gw.url}/v1/chat/completions`, chat)
    t.equal(res.status, 200, 'the next provider answered')
  }
  mock.script({ fault: 'status', status: 400, body: { error: { message: `${'y'.repeat(285)}${key}`, type: 'invalid_request_error' } } })
  const relayed = await postJson(`${gw.url}/v1/chat/completions`, chat)
  t.equal(relayed.status, 400)
  const texts = await surfaces(gw, relayed.text)
  t.notOk(leaks(texts, key, 6), `no 6 characters of the key anywhere (${leaks(texts, key, 6)})`)
  const providers = await (await fetch(`${gw.url}/providers`)).json() as any
  const entry = providers.providers?.find?.((p: any) => p.name === 'p') ?? providers.find?.((p: any) => p.name === 'p')
  t.ok(entry, 'provider p is listed')
  t.match(entry.keys[0].fingerprint, /^[0-9a-f]{12}$/, 'the fingerprint is a hash, no character of the key')
  t.notOk(JSON.stringify(providers).includes(key.slice(-4)), 'not even the last four characters')
})

t.test('credentials in the query string: refused on /v1 with a 401 that says to use a header, and masked in every log line', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm', GATEWAY_API_KEYS: GATEWAY_KEY, LOG_LEVEL: 'debug' })
  t.teardown(async () => { await gw.close(); await mock.close() })

  // The official SDK with the key in defaultQuery, as a user might configure it.
  const sdk = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'placeholder', defaultQuery: { api_key: GATEWAY_KEY }, maxRetries: 0 })
  const err = await sdk.chat.completions.create(chat).catch((e: unknown) => e)
  t.ok(err instanceof OpenAI.AuthenticationError, 'an AuthenticationError')
  t.match(err, { status: 401, code: 'api_key_in_query', param: 'api_key' })
  t.match((err as Error).message, /Authorization: Bearer/, 'the message says which header to use')

  for (const query of ['key', 'token', 'access_token', 'apikey', 'api-key', 'API_KEY', 'api%5Fkey']) {
    const res = await fetch(`${gw.url}/v1/models?${query}=${GATEWAY_KEY}`, { headers: { authorization: `Bearer ${GATEWAY_KEY}` } })
    t.equal(res.status, 401, `?${query}= is refused even with a valid header`)
    t.equal((await res.json() as any).error.code, 'api_key_in_query')
  }
  // Harmless parameters pass.
  t.equal((await fetch(`${gw.url}/v1/models?limit=5`, { headers: { authorization: `Bearer ${GATEWAY_KEY}` } })).status, 200)
  // Outside /v1 nothing is refused, but the log still never has the value.
  t.equal((await fetch(`${gw.url}/health?token=${GATEWAY_KEY}&x=1`)).status, 200)
  t.equal((await fetch(`${gw.url}/providers?access_token=${GATEWAY_KEY}`)).status, 401)

  const leak = leaks(gw.logs, GATEWAY_KEY, 8)
  t.notOk(leak, `no log line has the key (${leak})`)
  t.ok(gw.logs.some((l) => l.includes('/health?token=[REDACTED]&x=1')), 'the request URL is logged with the value masked')
})

t.test('redaction functions: exact match for any shape, shapes for unknown provider keys, query parameters, partial tails', async (t) => {
  const { createRedactor, redactQuery, credentialQueryParam, redactThenCut } = await import('../../plugins/redact.ts')
  const redact = createRedactor(Object.values(SHAPES))
  for (const key of Object.values(SHAPES)) t.equal(redact(`a ${key} b`), 'a [REDACTED] b', `exact match: ${key}`)
  t.equal(redact('bad key sk-proj-abcdefghijklmnop given'), 'bad key [REDACTED] given', 'a key shape, not configured')
  t.equal(redact('no key here, just a skeleton'), 'no key here, just a skeleton', 'words are left alone')
  t.equal(redact(`cut here: ${SHAPES['Mistral-style 32 alnum'].slice(0, 9)}`), 'cut here: [REDACTED]', 'a configured key cut at the end of a text')
  t.equal(redact('ends with Xq7'), 'ends with Xq7', 'fewer than six characters identify nothing')
  t.equal(redactThenCut(`${'x'.repeat(20)}${SHAPES['Mistral-style 32 alnum']}`, 25, redact), `${'x'.repeat(20)}[REDA`, 'redact, then cut')
  const table: Array<[string, string | undefined, string]> = [
    ['/v1/models?api_key=abc', 'api_key', '/v1/models?api_key=[REDACTED]'],
    ['/v1/models?limit=1&key=abc&x=2', 'key', '/v1/models?limit=1&key=[REDACTED]&x=2'],
    ['/v1/models?Access_Token=abc#frag', 'Access_Token', '/v1/models?Access_Token=[REDACTED]#frag'],
    ['/v1/models?api%5Fkey=abc', 'api_key', '/v1/models?api%5Fkey=[REDACTED]'],
    ['/v1/models?monkey=1&keys=2', undefined, '/v1/models?monkey=1&keys=2'],
    ['/v1/models', undefined, '/v1/models'],
  ]
  for (const [url, param, masked] of table) {
    t.equal(credentialQueryParam(url), param, `param of ${url}`)
    t.equal(redactQuery(url), masked, `masked ${url}`)
  }
})

t.test('a key inside an upstream error event mid-stream: the client\'s error event and the logs are redacted', async (t) => {
  const key = SHAPES['Mistral-style 32 alnum']
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_API_KEY: key, P_MODELS: 'm', LOG_LEVEL: 'debug' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const chunk = (content: string) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`
  for (const where of ['before commit', 'after commit']) {
    mock.script({
      fault: 'partial', contentType: 'text/event-stream',
      chunks: [...(where === 'after commit' ? [chunk('Hello')] : []), `data: ${JSON.stringify({ error: { message: `invalid key ${key}`, type: `type ${key}`, code: key } })}\n\n`],
    })
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...chat, stream: true }) })
    const text = await res.text()
    t.ok(/REDACTED/.test(text), `${where}: the error reached the client, redacted (HTTP ${res.status})`)
    const leak = leaks([text, ...gw.logs], key)
    t.notOk(leak, `${where}: no piece of the key (${leak})`)
  }
})
