// Which providers answer, in which order: issue 9 items 15 (pinning keeps providers whose
// catalog lists the whole id) and 18 (tiers compared as numbers; GET /v1/models does not take a
// round-robin turn), and per-request fallbacks (issue 10 item 6: `models`, `fallbacks`).
import t, { type Test } from 'tap'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'

interface Spec { name: string; tier: number; models: string[] }

async function providers(t: Test, specs: Spec[], env: Record<string, string> = {}): Promise<{ gw: Gateway; mocks: Record<string, OpenAIMock> }> {
  const mocks: Record<string, OpenAIMock> = {}
  const vars: Record<string, string> = { CUSTOM_PROVIDERS: specs.map((s) => s.name).join(','), RATE_LIMIT_MAX: '0' }
  for (const spec of specs) {
    const mock = await startOpenAIMock({ models: spec.models })
    mock.fallback = { content: `Hello from ${spec.name}` }
    mocks[spec.name] = mock
    const prefix = spec.name.toUpperCase()
    Object.assign(vars, { [`${prefix}_BASE_URL`]: mock.baseUrl, [`${prefix}_MODELS`]: spec.models.join(','), [`PROVIDER_PRIORITY_${prefix}`]: String(spec.tier) })
  }
  const gw = await startGateway({ ...vars, ...env })
  t.teardown(async () => {
    await gw.close()
    for (const mock of Object.values(mocks)) await mock.close()
  })
  return { gw, mocks }
}

const hi = [{ role: 'user' as const, content: 'hi' }]

t.test('issue 9 #15: `<provider>/<model>` tries the pinned provider first, then providers listing the whole id', async (t) => {
  // `router` plays OpenRouter: its catalog lists `pinned/gpt-4o-mini` as one id.
  const { gw, mocks } = await providers(t, [{ name: 'pinned', tier: 1, models: ['gpt-4o-mini'] }, { name: 'router', tier: 2, models: ['pinned/gpt-4o-mini'] }])
  const first = await gw.client.chat.completions.create({ model: 'pinned/gpt-4o-mini', messages: hi }).withResponse()
  t.equal(first.response.headers.get('x-tiergate-provider'), 'pinned', 'the pinned provider first')
  t.equal(mocks.pinned.chatRequests()[0].body.model, 'gpt-4o-mini', 'with the prefix stripped')

  mocks.pinned.script({ fault: 'status', status: 500 })
  const second = await gw.client.chat.completions.create({ model: 'pinned/gpt-4o-mini', messages: hi }).withResponse()
  t.equal(second.response.headers.get('x-tiergate-provider'), 'router', 'the provider whose catalog lists the whole id stays a candidate')
  t.equal(mocks.router.chatRequests()[0].body.model, 'pinned/gpt-4o-mini', 'and gets the whole id')
})

t.test('issue 9 #15: the pinned provider comes first even when a whole-id catalog is in a better tier', async (t) => {
  const { gw } = await providers(t, [{ name: 'pinned', tier: 3, models: ['m'] }, { name: 'router', tier: 1, models: ['pinned/m'] }])
  const { response } = await gw.client.chat.completions.create({ model: 'pinned/m', messages: hi }).withResponse()
  t.equal(response.headers.get('x-tiergate-provider'), 'pinned')
})

t.test('issue 9 #18: tiers are compared as numbers (10000 after 2000)', async (t) => {
  const { gw } = await providers(t, [{ name: 'huge', tier: 10000, models: ['m'] }, { name: 'big', tier: 2000, models: ['m'] }])
  const { response } = await gw.client.chat.completions.create({ model: 'm', messages: hi }).withResponse()
  t.equal(response.headers.get('x-tiergate-provider'), 'big')
  t.equal(response.headers.get('x-tiergate-tier'), '2000')
})

t.test('issue 9 #18: GET /v1/models does not advance the round-robin turn', async (t) => {
  const { gw } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }, { name: 'beta', tier: 1, models: ['m'] }], { MODEL_ALIASES: 'fast=m' })
  const served: string[] = []
  for (let i = 0; i < 4; i++) {
    // A different prompt each time: cache-warm affinity must not pin the conversation.
    const { response } = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: `question ${i}` }] }).withResponse()
    served.push(response.headers.get('x-tiergate-provider')!)
    // Listing (which resolves the alias `fast` to its candidates) between two requests.
    await gw.client.models.list()
    await fetch(`${gw.url}/v1/models/fast`)
  }
  t.same(served, ['alpha', 'beta', 'alpha', 'beta'], 'strict alternation: listing took no turn')
})

t.test('per-request fallbacks: `models` (OpenRouter) and `fallbacks` (LiteLLM), tried after the requested model, never forwarded', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['primary', 'backup'] }, { name: 'beta', tier: 2, models: ['third'] }])
  mocks.alpha.fallbackFor.primary = { fault: 'status', status: 404 }
  for (const extra of [{ models: ['primary', 'backup'] }, { fallbacks: ['backup'] }]) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'primary', messages: hi, ...extra })
    t.equal(res.status, 200, JSON.stringify(extra))
    t.equal(res.json.model, 'backup', 'the response names the model that answered')
    const sent = mocks.alpha.chatRequests().at(-1)!.body
    t.equal(sent.model, 'backup')
    t.notOk('models' in sent || 'fallbacks' in sent, 'the chain is the gateway\'s, never sent upstream')
  }
  // Each fallback with its own tier order; an unknown one is simply no candidate.
  mocks.alpha.fallbackFor.backup = { fault: 'status', status: 503 }
  const chain = await postJson(`${gw.url}/v1/chat/completions`, { model: 'primary', messages: hi, fallbacks: ['backup', 'nobody-serves-this', 'third'] })
  t.equal(chain.status, 200)
  t.equal(chain.json.model, 'third')
  t.equal(chain.headers.get('x-tiergate-provider'), 'beta')

  // Streams too: the chunks name the model that wrote them.
  const stream = await gw.client.chat.completions.create({ model: 'primary', messages: hi, stream: true, fallbacks: ['third'] } as never) as unknown as AsyncIterable<{ model: string }>
  const models = new Set<string>()
  for await (const chunk of stream) models.add(chunk.model)
  t.same([...models], ['third'])
})

t.test('per-request fallbacks: a model nobody serves with no serving fallback is a 404', async (t) => {
  const { gw } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }])
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'nope', messages: hi, fallbacks: ['also-nope'] })
  t.equal(res.status, 404)
  t.equal(res.json.error.code, 'model_not_found')
  const rescued = await postJson(`${gw.url}/v1/chat/completions`, { model: 'nope', messages: hi, fallbacks: ['m'] })
  t.equal(rescued.status, 200, 'a fallback that is served rescues an unknown requested model')
})
