// GPT4All through the gateway with the OpenAI SDK. The mock rejects every argument the real
// server rejects, so a passing request proves the adapter sent none of them; streaming
// clients get SSE replayed from the JSON answer; tool requests go to another provider.
import t, { type Test } from 'tap'
import { startGpt4AllMock } from '../mocks/gpt4all.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, sseData } from '../helpers/gateway.ts'
import { DEFAULT_GPT4ALL_MAX_TOKENS } from '../../providers/gpt4all.ts'

const MODEL = 'Llama 3.2 3B Instruct'
const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]

/** GPT4All at its default tier 4; with `nextTier`, an OpenAI mock at tier 5 serving the same model. */
async function setup(t: Test, options: { nextTier?: boolean; env?: Record<string, string> } = {}) {
  const gpt4all = await startGpt4AllMock()
  const next = await startOpenAIMock({ models: [MODEL] })
  next.fallback = { content: 'Hello from the next tier' }
  const gw = await startGateway({
    PROVIDERS_DISABLED: 'ollama,pollinations',
    GPT4ALL_BASE_URL: gpt4all.baseUrl,
    ...(options.nextTier ? { CUSTOM_PROVIDERS: 'next', NEXT_BASE_URL: next.baseUrl, PROVIDER_PRIORITY_NEXT: '5' } : {}),
    ...options.env,
  })
  t.teardown(async () => {
    await gw.close()
    await Promise.all([gpt4all.close(), next.close()])
  })
  return { gw, gpt4all, next }
}

t.test('the mock rejects what the real server rejects (so the tests below can fail)', async (t) => {
  const { gpt4all } = await setup(t)
  const send = (body: unknown) => postJson(`${gpt4all.baseUrl}/chat/completions`, body)
  const base = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }
  const rejected: Array<[Record<string, unknown>, RegExp]> = [
    [{ stream: true }, /'stream' is not supported/],
    [{ stream_options: { include_usage: true } }, /'stream_options' is not supported/],
    [{ seed: 1 }, /'seed' is not supported/],
    [{ stop: [] }, /'stop' is not supported/],
    [{ frequency_penalty: 0.5 }, /'frequency_penalty' is not supported/],
    [{ presence_penalty: 1 }, /'presence_penalty' is not supported/],
    [{ logit_bias: {} }, /'logit_bias' is not supported/],
    [{ logprobs: true }, /'logprobs' is not supported/],
    [{ response_format: { type: 'json_object' } }, /'response_format' is not supported/],
    [{ tools }, /'tools' is not supported/],
    [{ tool_choice: 'auto' }, /'tool_choice' is not supported/],
    [{ functions: [] }, /'functions' is not supported/],
    [{ function_call: 'auto' }, /'function_call' is not supported/],
    [{ max_completion_tokens: 5 }, /Unrecognized request argument supplied: max_completion_tokens/],
    [{ messages: [{ role: 'user', content: 'hi', name: 'bob' }] }, /unrecognized key: 'name'/],
    [{ messages: [{ role: 'developer', content: 'hi' }] }, /expected one of 'system', 'assistant', or 'user'/],
    [{ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }, /is not of type 'string'/],
  ]
  for (const [extra, message] of rejected) {
    const res = await send({ ...base, ...extra })
    t.equal(res.status, 400, JSON.stringify(extra))
    t.match(res.json.error, { type: 'invalid_request_error', param: null, code: null, message })
  }
  t.equal((await send({ ...base, frequency_penalty: 0, presence_penalty: 0 })).status, 200, 'integer 0 penalties pass')
})

t.test('catalog from /v1/models appears in the gateway', async (t) => {
  const { gw } = await setup(t)
  const ids = (await gw.client.models.list()).data.map((m) => m.id)
  t.ok(ids.includes('Llama 3.2 3B Instruct'))
  t.ok(ids.includes('Phi-3 Mini Instruct'))
  const model = await gw.client.models.retrieve('Phi-3 Mini Instruct')
  t.equal(model.owned_by, 'gpt4all')
})

t.test('a request full of unsupported fields still succeeds: the adapter sends only what GPT4All takes', async (t) => {
  const { gw, gpt4all } = await setup(t)
  const { data, response } = await gw.client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Hello' }, { type: 'text', text: 'there' }], name: 'bob' },
      { role: 'assistant', content: 'Hi!' },
      { role: 'user', content: 'How are you?' },
    ],
    seed: 7,
    stop: ['\n\n'],
    frequency_penalty: 0.5,
    presence_penalty: 0.1,
    logit_bias: { 50256: -100 },
    logprobs: true,
    top_logprobs: 2,
    response_format: { type: 'json_object' },
    max_completion_tokens: 100,
    temperature: 0.3,
    top_p: 0.8,
    user: 'user-1',
    parallel_tool_calls: false,
    tools,
    tool_choice: 'none',
  }).withResponse()
  t.equal(data.choices[0].message.content, 'Hello from GPT4All')
  t.equal(data.id, 'placeholder', "GPT4All's id passes through")
  t.same(data.usage, { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 })
  t.equal(response.headers.get('x-tiergate-provider'), 'gpt4all')
  t.same(gpt4all.chatRequests()[0].body, {
    model: MODEL,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello\nthere' },
      { role: 'assistant', content: 'Hi!' },
      { role: 'user', content: 'How are you?' },
    ],
    max_tokens: 100,
    temperature: 0.3,
    top_p: 0.8,
    user: 'user-1',
  })
})

t.test('max_tokens: the client value, else a whole-answer default (GPT4All alone would stop at 16)', async (t) => {
  const { gw, gpt4all } = await setup(t)
  await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 12 })
  await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
  t.equal(gpt4all.chatRequests()[0].body.max_tokens, 12)
  t.equal(gpt4all.chatRequests()[1].body.max_tokens, DEFAULT_GPT4ALL_MAX_TOKENS)
})

t.test('a streaming client gets SSE synthesized from the JSON answer', async (t) => {
  const { gw, gpt4all } = await setup(t)
  gpt4all.fallback = { content: 'A whole answer', finishReason: 'length' }
  const stream = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let usage
  const finishes: string[] = []
  for await (const chunk of stream) {
    t.equal(chunk.object, 'chat.completion.chunk')
    text += chunk.choices[0]?.delta?.content ?? ''
    if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason)
    if (chunk.usage) usage = chunk.usage
  }
  t.equal(text, 'A whole answer')
  t.same(finishes, ['length'])
  t.same(usage, { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 })
  const sent = gpt4all.chatRequests()[0].body
  t.notOk('stream' in sent, 'stream never sent')
  t.notOk('stream_options' in sent, 'stream_options never sent')

  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.match(res.headers.get('content-type'), /text\/event-stream/)
  t.equal(res.headers.get('x-tiergate-provider'), 'gpt4all')
  const frames = await sseData(res)
  t.equal(frames.at(-1), '[DONE]')
  t.equal(JSON.parse(frames[0]).choices[0].delta.role, 'assistant')
})

t.test('a tools request falls through to the next tier; GPT4All is never called', async (t) => {
  const { gw, gpt4all, next } = await setup(t, { nextTier: true, env: { PROVIDER_PRIORITY_GPT4ALL: '1', PROVIDER_PRIORITY_NEXT: '2' } })
  const { data, response } = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'weather?' }], tools }).withResponse()
  t.equal(data.choices[0].message.content, 'Hello from the next tier')
  t.equal(response.headers.get('x-tiergate-provider'), 'next')
  t.equal(gpt4all.chatRequests().length, 0)
  t.same(next.chatRequests()[0].body.tools, tools, 'the tools reach a provider that can use them')

  // A tool-call history needs tools too.
  await gw.client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    ],
  })
  t.equal(gpt4all.chatRequests().length, 0)
  // Without tools, GPT4All (tier 1) answers first.
  const plain = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.equal(plain.response.headers.get('x-tiergate-provider'), 'gpt4all')
})

t.test('a tools request with only GPT4All: 503 all_providers_failed that says why', async (t) => {
  const { gw, gpt4all } = await setup(t)
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'weather?' }], tools })
  t.equal(res.status, 503)
  t.equal(res.json.error.code, 'all_providers_failed')
  t.match(res.json.error.message, /gpt4all \(tier 4\): GPT4All cannot call tools/)
  const image = await postJson(`${gw.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] })
  t.equal(image.status, 503)
  t.match(image.json.error.message, /GPT4All takes text only/)
  t.equal(gpt4all.chatRequests().length, 0)
})

t.test('faults fall through to the next tier, JSON and stream', async (t) => {
  // Eight failures in a row would open GPT4All's breaker (then it is skipped, not tried): keep it closed here.
  const { gw, gpt4all, next } = await setup(t, { nextTier: true, env: { BREAKER_VOLUME_THRESHOLD: '100' } })
  const faults = [{ fault: 'status' as const, status: 500 }, { fault: 'reset' as const }, { fault: 'truncated-json' as const }, { fault: 'html' as const }]
  for (const fault of faults) {
    gpt4all.script(fault)
    const { data, response } = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
    t.equal(response.headers.get('x-tiergate-provider'), 'next', fault.fault)
    t.equal(data.choices[0].message.content, 'Hello from the next tier')
    gpt4all.script(fault)
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
    t.equal(res.headers.get('x-tiergate-provider'), 'next', `${fault.fault} (stream)`)
    t.equal((await sseData(res)).at(-1), '[DONE]')
  }
  t.equal(gpt4all.chatRequests().length, faults.length * 2)
  t.equal(next.chatRequests().length, faults.length * 2)
})

t.test('API server switched off (401, empty body): falls through with a message that says so', async (t) => {
  const { gw, gpt4all } = await setup(t, { nextTier: true })
  gpt4all.serverOff = true
  const { response } = await gw.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.equal(response.headers.get('x-tiergate-provider'), 'next')
  const status = await (await fetch(`${gw.url}/providers`)).json() as { providers: Array<{ name: string; health: { lastError: { message: string } | null } }> }
  t.match(status.providers.find((p) => p.name === 'gpt4all')?.health.lastError?.message, /API server is switched off/)
})

t.test('no embeddings: the router skips GPT4All for them', async (t) => {
  const { gw, gpt4all } = await setup(t)
  const res = await postJson(`${gw.url}/v1/embeddings`, { model: MODEL, input: 'x' })
  t.equal(res.status, 503)
  t.match(res.json.error.message, /gpt4all \(tier 4\): does not support embeddings/)
  t.equal(gpt4all.requests.filter((r) => r.method === 'POST').length, 0)
})

t.test('a GPT4All that is not running never blocks start-up', async (t) => {
  const gpt4all = await startGpt4AllMock()
  const url = gpt4all.baseUrl
  await gpt4all.close()
  const gw = await startGateway({ PROVIDERS_DISABLED: 'ollama,pollinations', GPT4ALL_BASE_URL: url })
  t.teardown(() => gw.close())
  const status = await (await fetch(`${gw.url}/providers`)).json() as { providers: Array<{ name: string; catalogSize: number }> }
  t.equal(status.providers.find((p) => p.name === 'gpt4all')?.catalogSize, 0)
})
