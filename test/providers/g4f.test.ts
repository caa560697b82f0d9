// G4F behind tiergate with the official OpenAI SDK: routing by model name across five
// endpoints, auth headers, catch-all and catalog, in-stream errors, no embeddings.
import t, { type Test } from 'tap'
import { startG4FMock, g4fError, type G4FMock } from '../mocks/g4f.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, sseData } from '../helpers/gateway.ts'

const ALL_ENDPOINTS = {
  main: ['gpt-4o-mini', 'deepseek-v3'],
  groq: ['llama-3.3-70b-versatile', 'gemma2-9b-it'],
  grok: ['grok-3'],
  gemini: ['gemini-2.5-flash'],
  nvidia: ['nvidia/llama-3.1-nemotron-70b-instruct'],
}

function baseEnv(g4f: G4FMock, endpoints: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const name of endpoints) env[`G4F_${name.toUpperCase()}_API_BASE`] = g4f.base(name)
  return env
}

async function setup(t: Test, endpoints: string[], env: Record<string, string> = {}, mockOptions: Parameters<typeof startG4FMock>[0] = {}) {
  const g4f = await startG4FMock({ models: ALL_ENDPOINTS, ...mockOptions })
  const gw = await startGateway({ ...baseEnv(g4f, endpoints), ...env })
  t.teardown(async () => { await gw.close(); await g4f.close() })
  return { g4f, gw }
}

const ask = (gw: Awaited<ReturnType<typeof startGateway>>, model: string) =>
  gw.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] })

t.test('routing by model name, first match wins, with every endpoint configured', async (t) => {
  const { g4f, gw } = await setup(t, ['main', 'groq', 'grok', 'gemini', 'nvidia'])
  const cases: Array<[string, string]> = [
    ['nvidia/llama-3.1-nemotron-70b-instruct', 'nvidia'], // nvidia/* (before llama*)
    ['Llama-3.1-Nemotron-Nano-8B', 'nvidia'], // *nemotron*, case-insensitive, before llama*
    ['grok-3-mini', 'grok'],
    ['gemini-2.5-flash', 'gemini'],
    ['gemma2-9b-it', 'groq'], // gemma* is groq's, not gemini's
    ['llama-3.3-70b-versatile', 'groq'],
    ['mixtral-8x7b-32768', 'groq'],
    ['gpt-4o-mini', 'main'],
    ['meta-llama/Llama-3.3-70B', 'main'], // llama* is a prefix rule
  ]
  for (const [model] of cases) {
    const data = await ask(gw, model)
    t.equal(data.choices[0].message.content, 'Hello from G4F', model)
  }
  t.same(g4f.chatEndpoints(), cases.map(([, endpoint]) => endpoint))
  t.same(g4f.chatRequests().map((r) => r.body.model), cases.map(([model]) => model), 'the model name goes upstream unchanged')
})

t.test('a matched endpoint that is not configured falls back to main', async (t) => {
  const { g4f, gw } = await setup(t, ['main', 'groq'])
  for (const model of ['grok-3', 'gemini-2.5-pro', 'nvidia/nemotron-4-340b', 'llama-3.1-8b-instant']) await ask(gw, model)
  t.same(g4f.chatEndpoints(), ['main', 'main', 'main', 'groq'])
})

t.test('G4F_API_KEY goes as g4f-api-key and as Bearer; a missing key is a 401 that falls through', async (t) => {
  const key = 'g4f_live_key_0123456789'
  const { g4f, gw } = await setup(t, ['main', 'groq'], { G4F_API_KEY: key }, { apiKey: key })
  const data = await ask(gw, 'llama-3.3-70b-versatile')
  t.equal(data.choices[0].message.content, 'Hello from G4F')
  const sent = g4f.chatRequests()[0].headers
  t.equal(sent['g4f-api-key'], key)
  t.equal(sent.authorization, `Bearer ${key}`)

  const backup = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  backup.fallback = { content: 'Hello from the backup' }
  const keyless = await startGateway({
    ...baseEnv(g4f, ['main']),
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '6',
  })
  t.teardown(async () => { await keyless.close(); await backup.close() })
  const { data: answer, response } = await ask(keyless, 'gpt-4o-mini').withResponse()
  t.equal(answer.choices[0].message.content, 'Hello from the backup')
  t.equal(response.headers.get('x-tiergate-provider'), 'backup')
  const status = await (await fetch(`${keyless.url}/providers`)).json()
  t.match(status.providers.find((p: any) => p.name === 'g4f').health.lastError.message, /HTTP 401: G4F API key required/)
  t.notOk(keyless.logs.some((line) => line.includes(key)) || gw.logs.some((line) => line.includes(key)), 'the key is in no log line')
})

t.test('catch-all by default; the catalog is the union of every endpoint /models, without provider names or image models', async (t) => {
  const { g4f, gw } = await setup(t, ['main', 'groq', 'nvidia'])
  const models = await gw.client.models.list()
  const ids = models.data.filter((m) => m.owned_by === 'g4f').map((m) => m.id).sort()
  t.same(ids, ['deepseek-v3', 'gemma2-9b-it', 'gpt-4o-mini', 'llama-3.3-70b-versatile', 'nvidia/llama-3.1-nemotron-70b-instruct'])
  t.notOk(models.data.some((m) => m.id === 'PollinationsAI' || m.id === 'flux'), 'provider entries and image generators are left out')

  const data = await ask(gw, 'a-model-no-catalog-lists')
  t.equal(data.choices[0].message.content, 'Hello from G4F', 'any model name is accepted')
  t.same(g4f.chatEndpoints(), ['main'])

  const status = await (await fetch(`${gw.url}/providers`)).json()
  const entry = status.providers.find((p: any) => p.name === 'g4f')
  t.equal(entry.tier, 5, 'tier 5 by default')
  t.equal(entry.catchAll, true)
  t.equal(entry.details.skipCostCalculation, true)
  t.same(entry.details.endpoints, { main: { catalogSize: 2, reachable: true }, groq: { catalogSize: 2, reachable: true }, nvidia: { catalogSize: 1, reachable: true } })
})

t.test('an endpoint whose /models does not answer is left out of the catalog; the others still count', async (t) => {
  const g4f = await startG4FMock({ models: ALL_ENDPOINTS })
  const gone = await startG4FMock()
  const goneBase = gone.base('main')
  await gone.close() // nothing listens there now: connection refused
  const gw = await startGateway({ G4F_MAIN_API_BASE: g4f.base('main'), G4F_GROQ_API_BASE: goneBase, LOG_LEVEL: 'debug' })
  t.teardown(async () => { await gw.close(); await g4f.close() })
  const ids = (await gw.client.models.list()).data.filter((m) => m.owned_by === 'g4f').map((m) => m.id).sort()
  t.same(ids, ['deepseek-v3', 'gpt-4o-mini'])
  const status = await (await fetch(`${gw.url}/providers`)).json()
  t.same(status.providers.find((p: any) => p.name === 'g4f').details.endpoints.groq, { catalogSize: 0, reachable: false })
})

t.test('G4F_MODELS narrows it: a fixed catalog, no catch-all, no discovery', async (t) => {
  const { g4f, gw } = await setup(t, ['main'], { G4F_MODELS: 'gpt-4o-mini,deepseek-r1' })
  const ids = (await gw.client.models.list()).data.filter((m) => m.owned_by === 'g4f').map((m) => m.id)
  t.same(ids, ['gpt-4o-mini', 'deepseek-r1'])
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'claude-3-haiku', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 404)
  t.equal(res.json.error.code, 'model_not_found')
  t.equal(g4f.requests.filter((r) => r.url.endsWith('/models')).length, 0, 'no discovery')
})

t.test('stream: chunks pass through; an in-stream error is a failure, not content', async (t) => {
  // STREAM_RESUME=0: with resume on, the answer would be continued after the error (test/router/resume.test.ts).
  const { g4f, gw } = await setup(t, ['main'], { STREAM_RESUME: '0' })
  const stream = await gw.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let usage
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? ''
    usage = chunk.usage ?? usage
  }
  t.equal(text, 'Hello from G4F')
  t.same(usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 })

  g4f.script({ content: 'abcdefghij', pieces: 5, g4fErrorAfter: 3 })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  const data = await sseData(res)
  t.not(data.at(-1), '[DONE]', 'G4F sent [DONE] after its error; the client must not see a clean end')
  const last = JSON.parse(data.at(-1)!)
  t.match(last.error.message, /g4f failed after it had started: error inside the stream: RateLimitError/)
  t.notOk(data.slice(0, -1).some((d) => d.includes('RateLimitError')), 'the error never arrives as content')
})

t.test('an in-stream error before any content, or an HTTP error, falls through to the next provider', async (t) => {
  const g4f = await startG4FMock()
  const backup = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  backup.fallback = { content: 'Hello from the backup' }
  const gw = await startGateway({ G4F_MAIN_API_BASE: g4f.base('main'), CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '6' })
  t.teardown(async () => { await gw.close(); await g4f.close(); await backup.close() })

  g4f.script({ g4fErrorAfter: 0 })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.headers.get('x-tiergate-provider'), 'backup')
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]')
  t.equal(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join(''), 'Hello from the backup')

  for (const fault of [g4fError(500, 'RuntimeError: Response 500: provider failed', { model: 'gpt-4o-mini', provider: 'Blackbox' }), g4fError(404, 'ModelNotFoundError: Model is not supported: gpt-4o-mini', { model: 'gpt-4o-mini' }), g4fError(429, 'RateLimitError: Rate limit')]) {
    g4f.script(fault)
    const { data: answer, response } = await ask(gw, 'gpt-4o-mini').withResponse()
    t.equal(answer.choices[0].message.content, 'Hello from the backup', `HTTP ${fault.fault === 'status' ? fault.status : ''}`)
    t.equal(response.headers.get('x-tiergate-attempts'), '2')
  }
})

t.test('embeddings: g4f has none; the router skips it', async (t) => {
  const { gw } = await setup(t, ['main'])
  const res = await postJson(`${gw.url}/v1/embeddings`, { model: 'text-embedding-3-small', input: 'hello' })
  t.equal(res.status, 503)
  t.match(res.json.error.message, /g4f \(tier 5\): does not support embeddings/)

  const g4f = await startG4FMock()
  const openai = await startOpenAIMock({ models: ['text-embedding-3-small'] })
  const both = await startGateway({ G4F_MAIN_API_BASE: g4f.base('main'), PROVIDER_PRIORITY_G4F: '1', CUSTOM_PROVIDERS: 'embedder', EMBEDDER_BASE_URL: openai.baseUrl, PROVIDER_PRIORITY_EMBEDDER: '2' })
  t.teardown(async () => { await both.close(); await g4f.close(); await openai.close() })
  const { data, response } = await both.client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' }).withResponse()
  t.equal(response.headers.get('x-tiergate-provider'), 'embedder')
  t.equal(data.data[0].embedding.length, 4)
  t.equal(g4f.requests.filter((r) => r.url.includes('embeddings')).length, 0, 'nothing was sent to G4F')
})

t.test('the fallback of last resort: a better tier answers first, G4F when it fails', async (t) => {
  const g4f = await startG4FMock()
  const primary = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  primary.fallback = { content: 'Hello from tier 1' }
  const gw = await startGateway({ G4F_MAIN_API_BASE: g4f.base('main'), OPENAI_API_KEY: 'sk-test-primary-000000', OPENAI_BASE_URL: primary.baseUrl })
  t.teardown(async () => { await gw.close(); await g4f.close(); await primary.close() })
  const first = await ask(gw, 'gpt-4o-mini')
  t.equal(first.choices[0].message.content, 'Hello from tier 1')
  t.equal(g4f.chatRequests().length, 0)
  primary.script({ fault: 'status', status: 503 })
  const { data, response } = await ask(gw, 'gpt-4o-mini').withResponse()
  t.equal(data.choices[0].message.content, 'Hello from G4F')
  t.equal(response.headers.get('x-tiergate-tier'), '5')
})
