// Chat completions through two OpenAI-compatible upstreams in two tiers, with the SDK.
import t, { type Test } from 'tap'
import { startTwoTiers } from '../helpers/two-tiers.ts'
import { postJson, sseData } from '../helpers/gateway.ts'

const twoTiers = (t: Test, env: Record<string, string> = {}) => startTwoTiers(t, { env })

t.test('non-stream answer from tier 1 with the tiergate headers', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  const { data, response } = await gw.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.equal(data.choices[0].message.content, 'Hello from mock')
  t.equal(response.headers.get('x-tiergate-provider'), 'first')
  t.equal(response.headers.get('x-tiergate-tier'), '1')
  t.equal(response.headers.get('x-tiergate-attempts'), '1')
  t.ok(response.headers.get('x-request-id'))
  t.same(tier1.chatRequests()[0].body.messages, [{ role: 'user', content: 'hi' }])
})

t.test('a 500 from tier 1 falls back to tier 2', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  tier1.script({ fault: 'status', status: 500 })
  const { data, response } = await gw.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.equal(data.choices[0].message.content, 'Hello from tier two')
  t.equal(response.headers.get('x-tiergate-provider'), 'second')
  t.equal(response.headers.get('x-tiergate-attempts'), '2')
})

t.test('stream: the SDK receives every chunk and [DONE] ends it', async (t) => {
  const { gw } = await twoTiers(t)
  const stream = await gw.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
  let text = ''
  let usage
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? ''
    if (chunk.usage) usage = chunk.usage
  }
  t.equal(text, 'Hello from mock')
  t.same(usage, { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 })
})

t.test('stream: a cut before the first chunk falls back invisibly', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  tier1.script({ fault: 'reset' })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]')
  t.match(data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join(''), 'Hello from tier two')
})

t.test('stream: with STREAM_RESUME=0 a cut after the first chunk ends with an error event and no [DONE]', async (t) => {
  // With resume on (the default) the next tier continues the answer: test/router/resume.test.ts.
  const { gw, tier1 } = await twoTiers(t, { STREAM_RESUME: '0' })
  tier1.script({ content: 'abcdefghij', pieces: 5, cutAfter: 3 })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  t.equal(res.status, 200)
  const data = await sseData(res)
  t.not(data.at(-1), '[DONE]')
  const last = JSON.parse(data.at(-1)!)
  t.equal(last.error.type, 'api_error')
  t.match(last.error.message, /first failed after it had started/)
  // The SDK surfaces it as an error, not a clean end.
  tier1.script({ content: 'abcdefghij', pieces: 5, cutAfter: 3 })
  const stream = await gw.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true })
  await t.rejects(async () => { for await (const _ of stream) { /* drain */ } }, /failed after it had started/)
})

t.test('all providers failing → 503 all_providers_failed listing each attempt', async (t) => {
  const { gw, tier1, tier2 } = await twoTiers(t)
  tier1.script({ fault: 'status', status: 502 })
  tier2.script({ fault: 'html' })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 503)
  t.equal(res.json.error.code, 'all_providers_failed')
  t.match(res.json.error.message, /first \(tier 1\): HTTP 502/)
  t.match(res.json.error.message, /second \(tier 2\): HTTP 502: an HTML error page/)
})

t.test('client faults return at once', async (t) => {
  const { gw, tier1, tier2 } = await twoTiers(t)
  tier1.script({ fault: 'status', status: 400, body: { error: { message: 'messages[0].content is too long', type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } } })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 400)
  t.equal(res.json.error.code, 'context_length_exceeded')
  t.match(res.json.error.message, /first rejected the request/)
  t.equal(tier2.chatRequests().length, 0)
})
