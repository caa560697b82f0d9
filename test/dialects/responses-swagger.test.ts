// The Responses routes in the OpenAPI document: under their own tag, with schemas and
// examples — and the examples really work against the running gateway.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const exampleOf = (media: any) => media.example ?? Object.values(media.examples ?? {}).map((e: any) => e.value)[0] ?? media.schema.examples?.[0]

t.test('documented under "OpenAI Responses", and the examples are accepted and shaped as documented', async (t) => {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const doc = await (await fetch(`${gw.url}/docs/json`)).json() as any
  t.ok(doc.tags.some((tag: any) => tag.name === 'OpenAI Responses'))
  const create = doc.paths['/v1/responses'].post
  const retrieve = doc.paths['/v1/responses/{id}'].get
  const remove = doc.paths['/v1/responses/{id}'].delete
  const items = doc.paths['/v1/responses/{id}/input_items'].get
  for (const op of [create, retrieve, remove, items]) {
    t.same(op.tags, ['OpenAI Responses'])
    t.ok(op.summary)
    for (const status of ['400', '404', '503']) t.ok(op.responses[status], `documents ${status}`)
  }

  const example = exampleOf(create.requestBody.content['application/json'])
  const created = await postJson(`${gw.url}/v1/responses`, example)
  t.equal(created.status, 200, 'the request example is accepted')
  t.equal(created.json.object, 'response')
  for (const [op, name] of [[create, 'create'], [retrieve, 'retrieve'], [remove, 'delete'], [items, 'input items']] as const) {
    const media = op.responses['200'].content['application/json']
    const documented = exampleOf(media)
    t.ok(documented, `${name} has a response example`)
    for (const field of media.schema.required ?? []) t.ok(field in documented, `${name} example has ${field}`)
  }
  for (const field of create.responses['200'].content['application/json'].schema.required) t.ok(field in created.json, `the real answer has ${field}`)
  const got = await fetch(`${gw.url}/v1/responses/${created.json.id}`)
  t.equal(got.status, 200)
  const deleted = await fetch(`${gw.url}/v1/responses/${created.json.id}`, { method: 'DELETE' })
  t.same(await deleted.json(), { id: created.json.id, object: 'response', deleted: true })
})
