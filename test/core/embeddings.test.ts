// /v1/embeddings: the SDK asks for base64 by default and decodes float32 — vectors must
// survive whether the upstream speaks base64 or only floats; fallback works as for chat.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

const expected = [0.25, 0.375, 0.5, 0.625]

t.test('SDK default (base64) and explicit float both give the right vectors', async (t) => {
  const mock = await startOpenAIMock({ models: ['emb'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const viaSdk = await gw.client.embeddings.create({ model: 'emb', input: 'hello' })
  t.same(viaSdk.data[0].embedding, expected)
  t.equal(mock.requests.at(-1)!.body.encoding_format, 'base64', 'the SDK asked for base64 and the upstream got the ask')
  const floats = await postJson(`${gw.url}/v1/embeddings`, { model: 'emb', input: ['a', 'b'], encoding_format: 'float' })
  t.same(floats.json.data.map((d: any) => d.embedding), [expected, [0.5, 0.625, 0.75, 0.875]])
  t.equal(floats.headers.get('x-tiergate-provider'), 'p')
})

t.test('an upstream that only returns floats is base64-encoded for clients that asked', async (t) => {
  const { floatsToBase64, base64ToFloats } = await import('../../routes/v1/embeddings.ts')
  const encoded = floatsToBase64(expected)
  t.same(base64ToFloats(encoded), expected)
  t.equal(Buffer.from(encoded, 'base64').readFloatLE(4), 0.375, 'little-endian float32')
})

t.test('embeddings fall back to the next tier', async (t) => {
  const first = await startOpenAIMock({ models: ['emb'] })
  const second = await startOpenAIMock({ models: ['emb'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'a,b', A_BASE_URL: first.baseUrl, B_BASE_URL: second.baseUrl, PROVIDER_PRIORITY_A: '1', PROVIDER_PRIORITY_B: '2' })
  t.teardown(async () => { await gw.close(); await first.close(); await second.close() })
  first.embeddingSteps.push({ fault: 'status', status: 503 })
  const res = await gw.client.embeddings.create({ model: 'emb', input: 'hello' }).withResponse()
  t.same(res.data.data[0].embedding, expected)
  t.equal(res.response.headers.get('x-tiergate-provider'), 'b')
  t.equal(res.response.headers.get('x-tiergate-attempts'), '2')
})
