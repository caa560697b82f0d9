// Retry discipline that matches the faults and keeps the model the client asked for (issue 10
// item 3) and the commit point (item 5), through the OpenAI SDK against mock upstreams.
import t, { type Test } from 'tap'
import type { Gateway } from '../helpers/gateway.ts'
import { twoProviders as twoOpenAIProviders, type TwoProviders } from './two-providers.ts'
import { MIN_RATE_LIMIT_COOLDOWN_MS } from '../../providers/key-pool.ts'

const hi = [{ role: 'user' as const, content: 'hi' }]

/** `first` (tier 1, with a key of its own) and `second` (tier 2) both serving `models`. */
const twoProviders = (t: Test, models: string[], env: Record<string, string> = {}): Promise<TwoProviders> =>
  twoOpenAIProviders(t, models, { FIRST_API_KEY: 'sk-first-only-key-1111', ...env })

const providerOf = async (gw: Gateway, name: string) => ((await (await fetch(`${gw.url}/providers`)).json()) as any).providers.find((p: any) => p.name === name)

t.test('retry-after: 0 cools the key for a small floor instead of hammering it', async (t) => {
  for (const headers of [{ 'retry-after': '0' } as Record<string, string>, { 'retry-after': new Date(Date.now() - 60_000).toUTCString() }, { 'x-ratelimit-reset-requests': '0s' }]) {
    const { gw, first } = await twoProviders(t, ['m'])
    first.script({ fault: 'status', status: 429, headers })
    const { data, response } = await gw.client.chat.completions.create({ model: 'm', messages: hi }).withResponse()
    t.equal(data.choices[0].message.content, 'Hello from second', `${JSON.stringify(headers)}: the next provider answers`)
    t.equal(first.chatRequests().length, 1, 'the rate-limited key was called once, not MAX_ATTEMPTS times')
    t.equal(response.headers.get('x-tiergate-attempts'), '2')
    const [key] = (await providerOf(gw, 'first')).keys
    t.equal(key.state, 'cooling_down')
    t.ok(key.availableInMs > 0 && key.availableInMs <= MIN_RATE_LIMIT_COOLDOWN_MS, `cooling for at most the ${MIN_RATE_LIMIT_COOLDOWN_MS} ms floor (${key.availableInMs} ms)`)
    await gw.close()
  }
})

t.test('a wait the upstream names below the floor (retry-after-ms: 300) is kept as named', async (t) => {
  const { gw, first } = await twoProviders(t, ['m'])
  first.script({ fault: 'status', status: 429, headers: { 'retry-after-ms': '300' } })
  const data = await gw.client.chat.completions.create({ model: 'm', messages: hi })
  t.equal(data.choices[0].message.content, 'Hello from second')
  const [key] = (await providerOf(gw, 'first')).keys
  t.equal(key.state, 'cooling_down')
  t.ok(key.availableInMs > 0 && key.availableInMs <= 300, `cooling for the 300 ms asked, not the ${MIN_RATE_LIMIT_COOLDOWN_MS} ms floor (${key.availableInMs} ms)`)
  await new Promise((resolve) => setTimeout(resolve, 350))
  const again = await gw.client.chat.completions.create({ model: 'm', messages: hi })
  t.equal(again.choices[0].message.content, 'Hello from first', 'the key serves again once the 300 ms are over')
})

t.test('a first-byte timeout is never retried on the same route, even with RETRY_SAME_PROVIDER', async (t) => {
  const { gw, first } = await twoProviders(t, ['m'], { RETRY_SAME_PROVIDER: '2', RETRY_BASE_DELAY_MS: '5', FIRST_TIMEOUT_FIRST_BYTE_MS: '200', TIMEOUT_TOTAL_MS: '20000' })
  first.script({ fault: 'hang' }, { fault: 'hang' }, { fault: 'hang' })
  const stream = await gw.client.chat.completions.create({ model: 'm', messages: hi, stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, 'Hello from second')
  t.equal(first.chatRequests().length, 1, 'the silent provider was asked once')
})

t.test('a 5xx on the requested model, only another model next: one retry on it first', async (t) => {
  const { gw, first } = await twoProviders(t, ['big', 'small'], { MODEL_ALIASES: 'smart=first/big|first/small', RETRY_BASE_DELAY_MS: '5' })
  first.scriptFor('big', { fault: 'status', status: 502 })
  const data = await gw.client.chat.completions.create({ model: 'smart', messages: hi })
  t.equal(data.model, 'big', 'the blip did not downgrade the answer')
  t.same(first.chatRequests().map((r) => r.body.model), ['big', 'big'])
})

t.test('a 5xx on a model that another provider also serves: fail over at once, no retry', async (t) => {
  const { gw, first, second } = await twoProviders(t, ['m'], { RETRY_BASE_DELAY_MS: '5' })
  first.script({ fault: 'status', status: 502 })
  const data = await gw.client.chat.completions.create({ model: 'm', messages: hi })
  t.equal(data.choices[0].message.content, 'Hello from second')
  t.equal(first.chatRequests().length, 1)
  t.equal(second.chatRequests().length, 1)
})

t.test('a 429 on the requested model with only another model next: its short Retry-After is waited out', async (t) => {
  const { gw, first } = await twoProviders(t, ['big', 'small'], { MODEL_ALIASES: 'smart=first/big|first/small', MAX_COOLDOWN_WAIT_MS: '3000' })
  first.scriptFor('big', { fault: 'status', status: 429, headers: { 'retry-after-ms': '300' } })
  const data = await gw.client.chat.completions.create({ model: 'smart', messages: hi })
  t.equal(data.model, 'big', 'the requested model answered after its cool-down')
  t.same(first.chatRequests().map((r) => r.body.model), ['big', 'big'], 'small was never needed')
})

t.test('a 400 "input too long" moves to the next alias target; other 400s are relayed', async (t) => {
  const { gw, first } = await twoProviders(t, ['short-ctx', 'long-ctx'], { MODEL_ALIASES: 'chat=first/short-ctx|first/long-ctx' })
  first.scriptFor('short-ctx', {
    fault: 'status', status: 400,
    body: { error: { message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } },
  })
  const { data, response } = await gw.client.chat.completions.create({ model: 'chat', messages: hi }).withResponse()
  t.equal(data.model, 'long-ctx', 'the response names the model that answered')
  t.equal(response.headers.get('x-tiergate-attempts'), '2')
  t.same(first.chatRequests().map((r) => r.body.model), ['short-ctx', 'long-ctx'])

  first.scriptFor('short-ctx', { fault: 'status', status: 400, body: { error: { message: 'Your request was rejected as a result of our safety system.', type: 'invalid_request_error', param: null, code: 'content_policy_violation' } } })
  const err = await gw.client.chat.completions.create({ model: 'chat', messages: hi }).catch((e) => e)
  t.equal(err.status, 400, 'a refusal is relayed, not routed around')
  t.equal(err.code, 'content_policy_violation')
  t.equal(first.chatRequests().length, 3, 'long-ctx was not asked')
})

t.test('commit point: a role-only first chunk then a failure falls back invisibly', async (t) => {
  const { gw, first, second } = await twoProviders(t, ['m'], { STREAM_RESUME: '0' })
  // The mock's first frame is `{"role":"assistant","content":""}`: nothing for the client yet.
  first.script({ content: 'never seen', cutAfter: 1 })
  const stream = await gw.client.chat.completions.create({ model: 'm', messages: hi, stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, 'Hello from second', 'the client saw only the answer, not a failure')
  t.equal(second.chatRequests().length, 1)
  t.equal(first.chatRequests().length, 1)
})

t.test('commit point: a keep-alive comment and a role chunk, then a stall before content, is a first-byte timeout', async (t) => {
  const { gw, first, second } = await twoProviders(t, ['m'], { FIRST_TIMEOUT_FIRST_BYTE_MS: '300', TIMEOUT_TOTAL_MS: '20000', STREAM_RESUME: '0' })
  first.script({ content: 'late', comments: true, stallAfter: 2 })
  const stream = await gw.client.chat.completions.create({ model: 'm', messages: hi, stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, 'Hello from second', 'nothing was committed before the first content chunk')
  t.equal(second.chatRequests().length, 1)
  await first.waitForNoInFlight()
})

t.test('BREAKER_TIMEOUT_MS bounds the time to commit, never a committed stream', async (t) => {
  const { gw, first } = await twoProviders(t, ['m'], { BREAKER_TIMEOUT_MS: '300', STREAM_RESUME: '0' })
  // About 600 ms of streaming after a quick first chunk: longer than the breaker timeout.
  first.script({ content: 'abcdefghij', pieces: 10, gapMs: 60 })
  const stream = await gw.client.chat.completions.create({ model: 'm', messages: hi, stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, 'abcdefghij', 'the whole stream, uncut')
})
