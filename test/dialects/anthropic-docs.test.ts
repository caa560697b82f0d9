// The Messages routes in the OpenAPI document: under their own tag, with Anthropic's error
// envelope (529 included), and examples that really work against the running gateway.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const KEY = 'gw-docs-key'

/** The first example of a media type: @fastify/swagger moves a body schema's `examples` there. */
const exampleOf = (media: any) => media.example ?? Object.values(media.examples ?? {}).map((e: any) => e.value)[0] ?? media.schema.examples?.[0]

t.test('POST /v1/messages and /v1/messages/count_tokens are documented, and their examples work', async (t) => {
  const mock = await startOpenAIMock({ models: ['claude-sonnet-4-5'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, GATEWAY_API_KEYS: KEY })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const doc = await (await fetch(`${gw.url}/docs/json`)).json() as any
  t.ok(doc.tags.some((tag: any) => tag.name === 'Anthropic-compatible'), 'the tag is declared')
  for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
    const op = doc.paths[path]?.post
    t.ok(op, `${path} is documented`)
    t.same(op.tags, ['Anthropic-compatible'])
    t.same(op.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }], 'x-api-key or Bearer')
    for (const status of ['200', '400', '401', '429', '529']) t.ok(op.responses[status], `${path} documents ${status}`)
    t.same(op.responses['529'].content['application/json'].schema.required, ['type', 'error'], 'Anthropic\'s envelope')
    t.same(op.responses['401'].content['application/json'].schema.required, ['type', 'error'], 'also for the auth failure')
    const media = op.responses['200'].content['application/json']
    const example = exampleOf(media)
    for (const field of media.schema.required ?? []) t.ok(field in example, `${path} response example has ${field}`)
  }
  const auth = { 'x-api-key': KEY }
  const messageExample = exampleOf(doc.paths['/v1/messages'].post.requestBody.content['application/json'])
  const message = await postJson(`${gw.url}/v1/messages`, messageExample, auth)
  t.equal(message.status, 200, 'the Messages request example is accepted')
  t.equal(message.json.type, 'message')
  const countExample = exampleOf(doc.paths['/v1/messages/count_tokens'].post.requestBody.content['application/json'])
  const count = await postJson(`${gw.url}/v1/messages/count_tokens`, countExample, auth)
  t.equal(count.status, 200, 'the count_tokens example is accepted')
  t.ok(count.json.input_tokens > 0)
})
