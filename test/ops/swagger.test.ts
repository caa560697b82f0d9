// The OpenAPI document: generated from the route schemas, valid OpenAPI 3.1 by a real
// validator, complete (every route, tags, errors, security), with examples that really work.
import t, { type Test } from 'tap'
import { Validator } from '@seriousme/openapi-schema-validator'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const KEY = 'gw-test-key-1'

async function documented(t: Test, env: Record<string, string> = {}) {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini', 'text-embedding-3-small'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, ...env }, { apiKey: KEY })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const res = await fetch(`${gw.url}/docs/json`)
  t.equal(res.status, 200)
  return { gw, mock, doc: await res.json() as any }
}

/** The first example of a media type: @fastify/swagger moves a body schema's `examples` there. */
const exampleOf = (media: any) => media.example ?? Object.values(media.examples ?? {}).map((e: any) => e.value)[0] ?? media.schema.examples?.[0]

const METHODS = ['get', 'post', 'put', 'patch', 'delete']
const operations = (doc: any) => Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
  Object.entries(item).filter(([method]) => METHODS.includes(method)).map(([method, op]) => ({ path, method, op: op as any })))

t.test('/docs/json is a valid OpenAPI 3.1 document', async (t) => {
  const { doc } = await documented(t, { GATEWAY_API_KEYS: KEY })
  t.equal(doc.openapi, '3.1.0')
  const validator = new Validator()
  const result = await validator.validate(doc)
  t.same(result.errors, undefined, 'no validation errors')
  t.ok(result.valid, 'valid for the validator')
  t.equal(validator.version, '3.1')
})

t.test('every route is documented, tagged, summarised, with its error responses', async (t) => {
  const { gw, doc } = await documented(t, { GATEWAY_API_KEYS: KEY })
  const ops = operations(doc)
  const has = (method: string, path: string) => ops.some((o) => o.method === method && o.path === path)
  for (const [method, path] of [['post', '/v1/chat/completions'], ['post', '/v1/embeddings'], ['get', '/v1/models'], ['get', '/v1/models/{id}'],
    ['get', '/health'], ['get', '/health/ready'], ['get', '/providers'], ['get', '/metrics']]) {
    t.ok(has(method, path), `${method.toUpperCase()} ${path} is documented`)
  }
  const tagNames = doc.tags.map((tag: any) => tag.name)
  for (const { path, method, op } of ops) {
    t.ok(op.summary, `${method} ${path} has a summary`)
    t.ok(op.tags?.length && op.tags.every((tag: string) => tagNames.includes(tag)), `${method} ${path} has a declared tag`)
  }
  const chat = doc.paths['/v1/chat/completions'].post
  for (const status of ['200', '400', '401', '429', '503']) t.ok(chat.responses[status], `chat documents ${status}`)
  t.same(chat.responses['503'].content['application/json'].schema.properties.error.required, ['message', 'type', 'param', 'code'])
  t.ok(chat.responses['200'].headers['x-ratelimit-remaining'], 'the budget headers are documented')
  // The wildcard model route is an ordinary path parameter.
  t.same(doc.paths['/v1/models/{id}'].get.parameters.map((p: any) => [p.in, p.name, p.required]), [['path', 'id', true]])
  // The generated document is the app's: the swagger decorator returns the same.
  t.same(JSON.parse(JSON.stringify(gw.app.swagger())).paths['/health'], doc.paths['/health'])
})

t.test('bearer and x-api-key security schemes; protected operations require them, probes do not', async (t) => {
  const { doc } = await documented(t, { GATEWAY_API_KEYS: KEY })
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearerAuth.description })
  t.match(doc.components.securitySchemes.apiKeyHeader, { type: 'apiKey', in: 'header', name: 'x-api-key' })
  const secured = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
  t.same(doc.paths['/v1/chat/completions'].post.security, secured)
  t.same(doc.paths['/providers'].get.security, secured)
  t.ok(doc.paths['/providers'].get.responses['401'], '/providers documents its 401')
  for (const path of ['/health', '/health/ready', '/metrics']) {
    t.equal(doc.paths[path].get.security, undefined, `${path} is open`)
    t.equal(doc.paths[path].get.responses['429'], undefined, `${path} is not rate limited`)
  }
  t.equal(doc.paths['/metrics'].get.responses['200'].content['text/plain'].schema.type, 'string')
})

t.test('without GATEWAY_API_KEYS nothing claims to need a key', async (t) => {
  const { doc } = await documented(t)
  t.ok(doc.components.securitySchemes.bearerAuth, 'the scheme stays declared')
  t.notOk(operations(doc).some(({ op }) => op.security), 'no operation requires it')
  t.equal(doc.paths['/v1/chat/completions'].post.responses['200'].description !== undefined, true)
})

t.test('the documented examples work against the running gateway', async (t) => {
  const { gw, doc } = await documented(t, { GATEWAY_API_KEYS: KEY })
  const auth = { authorization: `Bearer ${KEY}` }
  const chatExample = exampleOf(doc.paths['/v1/chat/completions'].post.requestBody.content['application/json'])
  const chat = await postJson(`${gw.url}/v1/chat/completions`, chatExample, auth)
  t.equal(chat.status, 200, 'the chat request example is accepted')
  t.equal(chat.json.object, 'chat.completion')
  const embedExample = exampleOf(doc.paths['/v1/embeddings'].post.requestBody.content['application/json'])
  const embed = await postJson(`${gw.url}/v1/embeddings`, embedExample, auth)
  t.equal(embed.status, 200, 'the embeddings request example is accepted')
  t.equal(embed.json.data.length, embedExample.input.length)
  // Response examples have every field their schema requires.
  for (const [path, method] of [['/v1/chat/completions', 'post'], ['/v1/embeddings', 'post'], ['/v1/models', 'get'], ['/health/ready', 'get']]) {
    const media = doc.paths[path][method].responses['200'].content['application/json']
    const example = exampleOf(media)
    t.ok(example, `${path} has a response example`)
    for (const field of media.schema.required ?? []) t.ok(field in example, `${path} example has ${field}`)
  }
})
