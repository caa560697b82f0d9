// The response cache behind the other dialects: an Anthropic Messages client served natively
// by Anthropic gets hits replayed as Anthropic messages and events (JSON and SSE), and
// coalesced native streams give every client the same events.
import t, { type Test } from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startAnthropicMock } from '../mocks/anthropic.ts'
import { startGateway } from '../helpers/gateway.ts'

const MODEL = 'claude-haiku-4-5'

async function setup(t: Test) {
  const anthropic = await startAnthropicMock({ models: [MODEL] })
  const gw = await startGateway({ ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl, CACHE_TTL_MS: '60000' })
  t.teardown(async () => { await gw.close(); await anthropic.close() })
  return { anthropic, gw, client: new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0, timeout: 20_000 }) }
}

const body = (content: string) => ({ model: MODEL, max_tokens: 100, temperature: 0, messages: [{ role: 'user' as const, content }] })
const events = (text: string) => text.split('\n\n').filter((f) => f.startsWith('event: ')).map((f) => /^event: (.*)$/m.exec(f)![1])

t.test('Anthropic Messages: a hit is an Anthropic message, as JSON and as a stream', async (t) => {
  const { anthropic, gw, client } = await setup(t)
  anthropic.fallback = { text: 'Cached by the gateway.' }
  const first = await client.messages.create(body('cache this')).withResponse()
  t.equal(first.response.headers.get('x-tiergate-cache'), 'miss')
  const second = await client.messages.create(body('cache this')).withResponse()
  t.equal(second.response.headers.get('x-tiergate-cache'), 'hit')
  t.equal(second.data.type, 'message')
  t.same(second.data.content.map((b) => (b.type === 'text' ? b.text : '')), ['Cached by the gateway.'])
  t.equal(second.data.stop_reason, first.data.stop_reason)
  const stream = client.messages.stream(body('cache this'))
  const final = await stream.finalMessage()
  t.same(final.content.map((b) => (b.type === 'text' ? b.text : '')), ['Cached by the gateway.'], 'replayed as Anthropic SSE events')
  t.equal(anthropic.messageRequests().length, 1, 'one upstream call for three requests')
})

t.test('Anthropic Messages: concurrent identical native streams share one upstream call and its events', async (t) => {
  const { anthropic, gw } = await setup(t)
  anthropic.fallback = { text: 'One stream for all.' }
  const post = () => fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ ...body('share this stream'), stream: true }) }).then((r) => r.text())
  const texts = await Promise.all(Array.from({ length: 10 }, post))
  t.equal(anthropic.messageRequests().length, 1)
  for (const text of texts) {
    t.equal(events(text).at(-1), 'message_stop')
    const deltas = [...text.matchAll(/"text_delta","text":"([^"]*)"/g)].map((m) => m[1]).join('')
    t.equal(deltas, 'One stream for all.')
  }
})

t.test('OpenAI Responses: a hit is a Responses answer', async (t) => {
  const { startOpenAIMock } = await import('../mocks/openai.ts')
  const mock = await startOpenAIMock()
  mock.fallback = { content: 'Responses, cached.' }
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, CACHE_TTL_MS: '60000' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const ask = () => gw.client.responses.create({ model: 'gpt-4o-mini', temperature: 0, input: 'cache this response', store: false }).withResponse()
  const first = await ask()
  t.equal(first.response.headers.get('x-tiergate-cache'), 'miss')
  const second = await ask()
  t.equal(second.data.output_text, 'Responses, cached.')
  t.equal(second.response.headers.get('x-tiergate-cache'), 'hit', 'the Responses route says so, as the other routes do')
  t.equal(mock.chatRequests().length, 1)
})
