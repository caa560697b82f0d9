// An answer's envelope as OpenAI's schema types it: `id` a string, `created` whole seconds.
// An OpenAI-compatible upstream that sent `"id": 12345` made the Messages encoder throw — a 500
// for a valid answer (found by mutating upstream answers at random: 21–25 of every 400 Messages
// requests failed so). Now the envelope is repaired where answers enter, as usage is.
import t from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startMockServer } from '../mocks/server.ts'

const cases: Array<[string, unknown, unknown]> = [
  ['a number id, a string created', 12345, 'yesterday'],
  ['an object id, no created', { id: 'x' }, undefined],
  ['an empty id, an infinite created', '', 1e400],
]

for (const [name, id, created] of cases) {
  t.test(`${name}: every dialect answers 200 with a well-typed id`, async (t) => {
    const upstream = await startMockServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      if (req.url?.endsWith('/models')) return void res.end('{"object":"list","data":[{"id":"m","object":"model"}]}')
      const answer: Record<string, unknown> = { id, object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] }
      if (created !== undefined) answer.created = created
      res.end(JSON.stringify(answer).replace('"created":null', '"created":1e400'))
    })
    const gw = await startGateway({ CUSTOM_PROVIDERS: 'up', UP_BASE_URL: `${upstream.origin}/v1`, UP_MODELS: 'm' })
    t.teardown(async () => { await gw.close(); await upstream.close() })

    const chat = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    t.equal(chat.status, 200)
    t.ok(typeof chat.json.id === 'string' && chat.json.id.length > 0, `Chat Completions: a non-empty string id (${JSON.stringify(chat.json.id)})`)
    t.ok(Number.isInteger(chat.json.created), `created is whole seconds: ${chat.json.created}`)

    const client = new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0 })
    const message = await client.messages.create({ model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
    t.match(message.id, /^msg_/, 'Messages: a msg_ id, not a 500')
    t.same(message.content, [{ type: 'text', text: 'hi' }])

    const responses = await postJson(`${gw.url}/v1/responses`, { model: 'm', input: 'hi' })
    t.equal(responses.status, 200)
    t.equal(responses.json.output_text ?? responses.json.output?.[0]?.content?.[0]?.text, 'hi')
  })
}
