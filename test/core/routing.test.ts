// Candidate resolution: tiers from env, pinning, aliases, catch-all, unknown models.
import t, { type Test } from 'tap'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

async function providers(t: Test, specs: Array<{ name: string; tier: number; models: string[] }>, extraEnv: Record<string, string> = {}) {
  const mocks: Record<string, OpenAIMock> = {}
  const env: Record<string, string> = { CUSTOM_PROVIDERS: specs.map((s) => s.name).join(','), ...extraEnv }
  for (const spec of specs) {
    const mock = await startOpenAIMock({ models: spec.models })
    mock.fallback = { content: `answer from ${spec.name}` }
    mocks[spec.name] = mock
    const prefix = spec.name.toUpperCase()
    env[`${prefix}_BASE_URL`] = mock.baseUrl
    env[`PROVIDER_PRIORITY_${prefix}`] ??= String(spec.tier)
  }
  Object.assign(env, extraEnv)
  const gw = await startGateway(env)
  t.teardown(async () => {
    await gw.close()
    await Promise.all(Object.values(mocks).map((m) => m.close()))
  })
  return { gw, mocks }
}

const ask = (gw: { client: any }, model: string) =>
  gw.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse()

t.test('tiers come from PROVIDER_PRIORITY_<NAME>: reordering by env changes who answers', async (t) => {
  const { gw } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }, { name: 'beta', tier: 2, models: ['m'] }])
  t.equal((await ask(gw, 'm')).response.headers.get('x-tiergate-provider'), 'alpha')
  const swapped = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }, { name: 'beta', tier: 2, models: ['m'] }], { PROVIDER_PRIORITY_ALPHA: '3' })
  const { response } = await ask(swapped.gw, 'm')
  t.equal(response.headers.get('x-tiergate-provider'), 'beta')
  t.equal(response.headers.get('x-tiergate-tier'), '2')
})

t.test('only providers whose catalog has the model are candidates', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['a-only'] }, { name: 'beta', tier: 2, models: ['b-only'] }])
  const { data, response } = await ask(gw, 'b-only')
  t.equal(data.choices[0].message.content, 'answer from beta')
  t.equal(response.headers.get('x-tiergate-attempts'), '1')
  t.equal(mocks.alpha.chatRequests().length, 0)
})

t.test('unknown model → 404 model_not_found in the OpenAI envelope', async (t) => {
  const { gw } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }])
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })
  t.equal(res.status, 404)
  t.same(res.json, { error: { message: 'The model `no-such-model` does not exist or no enabled provider serves it.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } })
  t.equal((await ask(gw, 'no-such-model').catch((e: any) => e)).status, 404)
})

t.test('provider/model pins one provider and strips the prefix upstream', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }, { name: 'beta', tier: 2, models: ['m'] }])
  const { response } = await ask(gw, 'beta/some-model-not-in-catalog')
  t.equal(response.headers.get('x-tiergate-provider'), 'beta')
  t.equal(mocks.beta.chatRequests()[0].body.model, 'some-model-not-in-catalog')
  t.equal(mocks.alpha.chatRequests().length, 0)
  // A pinned provider that fails has no fallback: the pin is the whole candidate list.
  mocks.beta.script({ fault: 'status', status: 500 })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'beta/m', messages: [{ role: 'user', content: 'x' }] })
  t.equal(res.status, 503)
  t.equal(mocks.alpha.chatRequests().length, 0)
})

t.test('a slash model id whose prefix is not a provider matches by catalog (OpenRouter ids)', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['meta-llama/llama-3-8b'] }])
  const { response } = await ask(gw, 'meta-llama/llama-3-8b')
  t.equal(response.headers.get('x-tiergate-provider'), 'alpha')
  t.equal(mocks.alpha.chatRequests()[0].body.model, 'meta-llama/llama-3-8b')
})

t.test('MODEL_ALIASES: a cross-model fallback chain with pinned targets', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['big'] }, { name: 'beta', tier: 2, models: ['small'] }], {
    MODEL_ALIASES: 'smart=alpha/big|small',
  })
  let r = await ask(gw, 'smart')
  t.equal(r.response.headers.get('x-tiergate-provider'), 'alpha')
  t.equal(mocks.alpha.chatRequests().at(-1)!.body.model, 'big')
  // Only another model is next: a blip on the requested one gets one more try first.
  mocks.alpha.script({ fault: 'status', status: 503 })
  r = await ask(gw, 'smart')
  t.equal(r.response.headers.get('x-tiergate-provider'), 'alpha', 'retried once on the requested model')
  t.equal(r.response.headers.get('x-tiergate-attempts'), '2')
  mocks.alpha.script({ fault: 'status', status: 503 }, { fault: 'status', status: 503 })
  r = await ask(gw, 'smart')
  t.equal(r.response.headers.get('x-tiergate-provider'), 'beta')
  t.equal(mocks.beta.chatRequests().at(-1)!.body.model, 'small')
  t.equal(r.response.headers.get('x-tiergate-attempts'), '3')
})

t.test('<NAME>_MODELS=* makes a provider a catch-all', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }], { ALPHA_MODELS: '*' })
  const { response } = await ask(gw, 'anything-at-all')
  t.equal(response.headers.get('x-tiergate-provider'), 'alpha')
  t.equal(mocks.alpha.chatRequests()[0].body.model, 'anything-at-all')
})

t.test('inside a tier, equal providers share traffic round-robin', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }, { name: 'beta', tier: 1, models: ['m'] }])
  for (let i = 0; i < 6; i++) await ask(gw, 'm')
  t.ok(mocks.alpha.chatRequests().length >= 2, `alpha served ${mocks.alpha.chatRequests().length}`)
  t.ok(mocks.beta.chatRequests().length >= 2, `beta served ${mocks.beta.chatRequests().length}`)
})

t.test('request fields pass through untouched (tools, images, response_format, n, seed, stop, unknown extras)', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }])
  const body = {
    model: 'm',
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } }] },
    ],
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
    n: 2, seed: 42, stop: ['END'], temperature: 0.3, logit_bias: { '50256': -100 }, user: 'u1', vendor_extension: { keep: true },
  }
  const res = await postJson(`${gw.url}/v1/chat/completions`, body)
  t.equal(res.status, 200)
  t.same(mocks.alpha.chatRequests()[0].body, body)
})

t.test('tool calls stream back as OpenAI fragments the SDK reassembles', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }])
  mocks.alpha.script({ toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] })
  const stream = gw.client.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'weather?' }], tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] })
  const final = await stream.finalChatCompletion()
  t.same(final.choices[0].message.tool_calls, [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }])
  t.equal(final.choices[0].finish_reason, 'tool_calls')
})

t.test('upstream `reasoning` is surfaced as reasoning_content, stream and non-stream', async (t) => {
  const { gw, mocks } = await providers(t, [{ name: 'alpha', tier: 1, models: ['m'] }])
  mocks.alpha.script({ content: 'Three.', reasoning: 'count the r letters', reasoningField: 'reasoning' })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'x' }] })
  t.equal(res.json.choices[0].message.reasoning_content, 'count the r letters')
  t.notOk('reasoning' in res.json.choices[0].message)
  mocks.alpha.script({ content: 'Three.', reasoning: 'count the r letters', reasoningField: 'reasoning' })
  const stream = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true })
  let reasoning = ''
  for await (const chunk of stream) reasoning += (chunk.choices[0]?.delta as any)?.reasoning_content ?? ''
  t.equal(reasoning, 'count the r letters')
})
