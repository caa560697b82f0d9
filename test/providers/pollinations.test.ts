// Pollinations behind tiergate with the official OpenAI SDK: both URL layouts, referrer and
// key, the catalog, 429/402 falling through with the anonymous slot's cool-down visible, and
// a quiet start-up when the default endpoint is unreachable.
import t, { type Test } from 'tap'
import { startPollinationsMock, rateLimited, insufficientBalance, queueFull402 } from '../mocks/pollinations.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, sseData } from '../helpers/gateway.ts'
import { refusedUrl } from '../mocks/server.ts'

async function setup(t: Test, env: Record<string, string> = {}) {
  const polli = await startPollinationsMock()
  const backup = await startOpenAIMock({ models: ['openai', 'mistral'] })
  backup.fallback = { content: 'Hello from the backup tier' }
  const gw = await startGateway({
    PROVIDERS_DISABLED: 'ollama,gpt4all', // pollinations stays on, as by default
    POLLINATIONS_BASE_URL: polli.legacyBaseUrl,
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '6',
    ...env,
  })
  t.teardown(async () => { await gw.close(); await polli.close(); await backup.close() })
  return { polli, backup, gw }
}

const ask = (gw: Awaited<ReturnType<typeof startGateway>>, model = 'openai') =>
  gw.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse()

async function pollinationsStatus(url: string) {
  const status = await (await fetch(`${url}/providers`)).json()
  return status.providers.find((p: any) => p.name === 'pollinations')
}

t.test('legacy layout: POST to the base itself, catalog from the sibling /models with names and aliases', async (t) => {
  const { polli, gw } = await setup(t)
  const ids = (await gw.client.models.list()).data.filter((m) => m.owned_by === 'pollinations').map((m) => m.id)
  t.same(ids, ['openai', 'gpt-5-nano', 'mistral'], 'audio-only models are left out')
  t.same(polli.requests.filter((r) => r.method === 'GET').map((r) => r.url), ['/models'])

  const { data, response } = await ask(gw, 'gpt-5-nano')
  t.equal(data.choices[0].message.content, 'Hello from Pollinations')
  t.equal(response.headers.get('x-tiergate-provider'), 'pollinations')
  t.equal(response.headers.get('x-tiergate-tier'), '5')
  const sent = polli.chatRequests()[0]
  t.equal(sent.url, '/openai')
  t.same(sent.body, { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }], private: true })
  t.notOk(sent.headers.authorization, 'anonymous: no Authorization header')
  t.notOk(sent.headers.referer)
})

t.test('POLLINATIONS_REFERRER goes as Referer and body referrer; POLLINATIONS_API_KEY as Bearer', async (t) => {
  const key = 'sk_pollinations_secret_0001'
  const { polli, gw } = await setup(t, { POLLINATIONS_REFERRER: 'tiergate.example', POLLINATIONS_API_KEY: key })
  await ask(gw)
  const sent = polli.chatRequests()[0]
  t.equal(sent.headers.referer, 'tiergate.example')
  t.equal(sent.body.referrer, 'tiergate.example')
  t.equal(sent.headers.authorization, `Bearer ${key}`)
  t.equal(polli.requests[0].headers.authorization, `Bearer ${key}`, 'discovery sends the key too')
  t.notOk(gw.logs.some((line) => line.includes(key)))
})

t.test('stream through the SDK, with usage', async (t) => {
  const { gw } = await setup(t)
  const stream = await gw.client.chat.completions.create({ model: 'openai', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let usage
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? ''
    usage = chunk.usage ?? usage
  }
  t.equal(text, 'Hello from Pollinations')
  t.same(usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 })
})

t.test('OpenAI-compatible layout (gen.pollinations.ai): {base}/chat/completions and {base}/models', async (t) => {
  const polli = await startPollinationsMock()
  t.teardown(() => polli.close())
  for (const base of [polli.genBaseUrl, polli.origin]) {
    const gen = await startGateway({ PROVIDERS_DISABLED: 'ollama,gpt4all', POLLINATIONS_BASE_URL: base, POLLINATIONS_REFERRER: 'tiergate.example' })
    t.teardown(() => gen.close())
    const ids = (await gen.client.models.list()).data.filter((m) => m.owned_by === 'pollinations').map((m) => m.id)
    t.same(ids, ['openai', 'openai-fast', 'gemini'], `catalog from /v1/models (base ${base})`)
    const before = polli.chatRequests().length
    const { data } = await ask(gen, 'openai-fast')
    t.equal(data.choices[0].message.content, 'Hello from Pollinations')
    const sent = polli.chatRequests()[before]
    t.equal(sent.url, '/v1/chat/completions')
    t.same(sent.body, { model: 'openai-fast', messages: [{ role: 'user', content: 'hi' }] }, 'no legacy-only body fields')
    t.equal(sent.headers.referer, 'tiergate.example')
  }
})

t.test('an anonymous 429 without retry-after falls through; the anonymous slot cools down, visible at /providers', async (t) => {
  const { polli, gw } = await setup(t)
  polli.script(rateLimited())
  const { data, response } = await ask(gw)
  t.equal(data.choices[0].message.content, 'Hello from the backup tier')
  t.equal(response.headers.get('x-tiergate-provider'), 'backup')
  t.equal(response.headers.get('x-tiergate-attempts'), '2')

  const entry = await pollinationsStatus(gw.url)
  t.equal(entry.keys.length, 1)
  t.equal(entry.keys[0].fingerprint, 'anonymous')
  t.equal(entry.keys[0].state, 'cooling_down')
  t.ok(entry.keys[0].availableInMs > 5_000 && entry.keys[0].availableInMs <= 10_000, `first 429 without retry-after: about 10 s (${entry.keys[0].availableInMs} ms)`)
  t.match(entry.health.lastError.message, /HTTP 429: Too Many Requests/)
  t.equal(entry.breaker.state, 'closed')

  // While it cools, Pollinations is not asked at all.
  const sentBefore = polli.chatRequests().length
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  t.equal((await sseData(res)).at(-1), '[DONE]')
  t.equal(polli.chatRequests().length, sentBefore)
})

t.test('a 429 with retry-after cools the anonymous slot for that long (stream request)', async (t) => {
  const { polli, gw } = await setup(t)
  polli.script(rateLimited(42))
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.headers.get('x-tiergate-provider'), 'backup', 'the 429 before the first chunk falls through invisibly')
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]')
  const entry = await pollinationsStatus(gw.url)
  t.equal(entry.keys[0].state, 'cooling_down')
  t.ok(entry.keys[0].availableInMs > 40_000 && entry.keys[0].availableInMs <= 42_000, `${entry.keys[0].availableInMs} ms`)
})

t.test('402 insufficient balance falls through, with or without retry-after, and does not cool the slot', async (t) => {
  const { polli, gw } = await setup(t)
  for (const fault of [insufficientBalance(), insufficientBalance(60)]) {
    polli.script(fault)
    const { data, response } = await ask(gw)
    t.equal(data.choices[0].message.content, 'Hello from the backup tier')
    t.equal(response.headers.get('x-tiergate-attempts'), '2')
    const entry = await pollinationsStatus(gw.url)
    t.equal(entry.keys[0].state, 'available', 'a payment problem is not a rate limit')
    t.match(entry.health.lastError.message, /HTTP 402: Insufficient balance/)
  }
  t.equal(polli.chatRequests().length, 2, 'each request tried Pollinations first')
  const { response } = await ask(gw)
  t.equal(response.headers.get('x-tiergate-provider'), 'pollinations', 'and it answers again once it can')
})

t.test('a 402 "Queue full for IP" is the anonymous rate limit in disguise: the slot cools down', async (t) => {
  const { polli, gw } = await setup(t)
  polli.script(queueFull402())
  const { data } = await ask(gw)
  t.equal(data.choices[0].message.content, 'Hello from the backup tier')
  const entry = await pollinationsStatus(gw.url)
  t.equal(entry.keys[0].state, 'cooling_down')
  t.match(entry.health.lastError.message, /HTTP 402: Queue full for IP/)
})

t.test('unreachable Pollinations (the usual case offline): start-up quiet, requests fail fast with a clear reason', async (t) => {
  const { loadConfig } = await import('../../config.ts')
  t.equal(loadConfig({}).providers.pollinations.baseUrl, 'https://text.pollinations.ai/openai', 'the default endpoint')
  t.ok(loadConfig({}).providers.pollinations.enabled, 'enabled by default')
  // A closed loopback port stands in for the unreachable default host: no test calls the internet.
  const gw = await startGateway({ PROVIDERS_DISABLED: 'ollama,gpt4all', LOG_LEVEL: 'debug', POLLINATIONS_BASE_URL: `${await refusedUrl()}/openai` })
  t.teardown(() => gw.close())
  const entry = await pollinationsStatus(gw.url)
  t.equal(entry.tier, 5)
  t.equal(entry.catalogSize, 0)
  const lines = gw.logs.map((line) => JSON.parse(line)).filter((l) => JSON.stringify(l).includes('pollinations'))
  const summary = lines.find((l) => String(l.msg).startsWith('start summary'))
  t.match(summary?.providers, [{ name: 'pollinations', tier: 5, reachable: false, models: 0 }], 'the start summary says it is unreachable')
  t.same(lines.filter((l) => l.level > 20 && l !== summary), [], 'no other info, warn or error line about it at start-up')
  t.ok(lines.some((l) => l.level === 20 && l.msg === 'catalog discovery failed'), 'discovery failed, said so at debug level')
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'pollinations/openai', messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.status, 503)
  t.match((await res.json()).error.message, /pollinations \(tier 5\): connection to 127\.0\.0\.1:\d+ failed \(ECONNREFUSED\)/)
})
