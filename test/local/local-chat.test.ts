// Provider `local` runs a real GGUF file in-process (node-llama-cpp). The model is the tiny
// generated one (test/setup/tiny-gguf.ts): it always answers "abcdefghijklmnopqrstuvwxyzab…"
// and never stops on its own, so max_tokens, stop and streaming can be asserted exactly.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLocalGateway, localStatus, tinyModelFile, LOCAL_TEST_ENV } from './fixture.ts'
import { tinyModelReply } from '../setup/tiny-gguf.ts'
import { postJson, startGateway } from '../helpers/gateway.ts'
import { startMockServer } from '../mocks/server.ts'
import { waitFor } from '../helpers/wait.ts'

const ask = (extra: Record<string, unknown> = {}) => ({ model: 'tiny', messages: [{ role: 'user', content: 'Say the alphabet' }], ...extra })

t.test('the model is listed before it is loaded; the first request loads it', async (t) => {
  const gw = await startLocalGateway(t)
  const models = await gw.client.models.list()
  t.same(models.data.map((m) => [m.id, m.owned_by]), [['tiny', 'local']])
  t.equal((await localStatus(gw)).details.state, 'not_loaded', 'nothing loaded by listing')
  const answer = await gw.client.chat.completions.create({ ...ask(), max_tokens: 20 } as any)
  t.equal(answer.choices[0].message.content, tinyModelReply(20))
  t.equal(answer.choices[0].finish_reason, 'length', 'max_tokens reached: length')
  t.equal(answer.usage?.completion_tokens, 20)
  t.ok((answer.usage?.prompt_tokens ?? 0) > 0, 'prompt tokens counted')
  const status = await localStatus(gw)
  t.equal(status.details.state, 'ready')
  t.equal(status.tier, 4, 'tier 4 by default')
})

t.test('streams token by token, through the model\'s own chat template', async (t) => {
  const gw = await startLocalGateway(t)
  const stream = await gw.client.chat.completions.create({ ...ask(), max_tokens: 30, stream: true, stream_options: { include_usage: true } } as any) as any
  const pieces: string[] = []
  let finish: string | null = null
  let usage: any
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage
    const choice = chunk.choices[0]
    if (!choice) continue
    if (choice.delta.content) pieces.push(choice.delta.content)
    if (choice.finish_reason) finish = choice.finish_reason
  }
  t.equal(pieces.join(''), tinyModelReply(30))
  t.equal(pieces.length, 30, 'one chunk per token')
  t.equal(finish, 'length')
  t.equal(usage?.completion_tokens, 30)
})

t.test('stop sequences end the answer before them, with finish_reason stop', async (t) => {
  const gw = await startLocalGateway(t)
  const one = await gw.client.chat.completions.create({ ...ask(), stop: 'fgh', max_tokens: 50 } as any)
  t.equal(one.choices[0].message.content, 'abcde')
  t.equal(one.choices[0].finish_reason, 'stop')
  const many = await gw.client.chat.completions.create({ ...ask(), stop: ['xyz', 'klm'], max_tokens: 50, stream: false } as any)
  t.equal(many.choices[0].message.content, 'abcdefghij', 'the first stop that appears wins')
  const streamed = await postJson(`${gw.url}/v1/chat/completions`, { ...ask(), stop: ['mno'], max_tokens: 50, stream: true })
  const text = streamed.text.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)).choices[0]?.delta?.content ?? '').join('')
  t.equal(text, 'abcdefghijkl', 'a stream stops the same way')
})

t.test('temperature, top_p and seed are accepted (the tiny model is deterministic at any temperature)', async (t) => {
  const gw = await startLocalGateway(t)
  const answer = await gw.client.chat.completions.create({ ...ask(), max_tokens: 5, temperature: 1.2, top_p: 0.9, seed: 42 } as any)
  t.equal(answer.choices[0].message.content, 'abcde')
})

t.test('LOCAL_MODEL_ID renames the model', async (t) => {
  const gw = await startLocalGateway(t, { LOCAL_MODEL_ID: 'my-local' })
  t.same((await gw.client.models.list()).data.map((m) => m.id), ['my-local'])
  const answer = await gw.client.chat.completions.create({ model: 'my-local', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
  t.equal(answer.choices[0].message.content, 'abc')
  t.equal(answer.model, 'my-local')
})

t.test('GPT4ALL_MODEL_PATH (the seed\'s name) serves the same way', async (t) => {
  const file = tinyModelFile(t, 'seed-model')
  const gw = await startGateway({ ...LOCAL_TEST_ENV, GPT4ALL_MODEL_PATH: file })
  t.teardown(() => gw.close())
  t.same((await gw.client.models.list()).data.map((m) => m.id), ['seed-model'])
  const answer = await gw.client.chat.completions.create({ model: 'seed-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
  t.equal(answer.choices[0].message.content, 'ab')
})

t.test('an embedding model serves /v1/embeddings; a chat model leaves them to others', async (t) => {
  const gw = await startLocalGateway(t, {}, tinyModelFile(t, 'tiny-embed', { pooling: 1 }))
  const res = await gw.client.embeddings.create({ model: 'tiny-embed', input: ['hello', 'world'], encoding_format: 'float' })
  t.equal(res.data.length, 2)
  t.equal(res.data[0].embedding.length, 64, 'the model\'s dimension')
  t.ok(res.usage.prompt_tokens > 0)
  const chat = await postJson(`${gw.url}/v1/chat/completions`, { model: 'tiny-embed', messages: [{ role: 'user', content: 'hi' }] })
  t.match(chat.json.error.message, /embedding model/)
  const chatModel = await startLocalGateway(t)
  const refused = await postJson(`${chatModel.url}/v1/embeddings`, { model: 'tiny', input: 'hello' })
  t.equal(refused.status, 503)
  t.match(refused.json.error.message, /chat model/)
})

t.test('a missing model file shows in /providers and the start summary; requests fail with the path', async (t) => {
  const gw = await startGateway({ ...LOCAL_TEST_ENV, LOCAL_MODEL_PATH: '/nonexistent/dir/model.gguf' })
  t.teardown(() => gw.close())
  const status = await localStatus(gw)
  t.match(status.discovery.lastError, /model file not found: \/nonexistent\/dir\/model\.gguf/)
  t.match(gw.app.startupSummary(), /local +UNREACHABLE .*model file not found/)
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'model', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 503)
  t.match(res.json.error.message, /model file not found/)
})

t.test('LOCAL_MODEL_URL downloads the model on first start into LOCAL_MODELS_DIR, logging progress', async (t) => {
  const bytes = readFileSync(tinyModelFile(t, 'served'))
  const server = await startMockServer((_req, res) => {
    res.setHeader('content-type', 'application/octet-stream')
    res.setHeader('content-length', String(bytes.length))
    res.end(bytes)
  })
  t.teardown(() => server.close())
  const dir = mkdtempSync(join(tmpdir(), 'tiergate-models-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const gw = await startGateway({ ...LOCAL_TEST_ENV, LOCAL_MODEL_URL: `${server.origin}/files/tiny-download.gguf`, LOCAL_MODELS_DIR: dir, DISCOVERY_RETRY_MIN_MS: '50' })
  t.teardown(() => gw.close())
  t.same((await gw.client.models.list()).data.map((m) => m.id), ['tiny-download'], 'listed before the download ends')
  await waitFor(async () => (await localStatus(gw)).details.path !== null, 'the download', 15_000)
  t.ok(existsSync((await localStatus(gw)).details.path), 'the file is in LOCAL_MODELS_DIR')
  t.ok(gw.logs.some((l) => /local model: downloading \[#+-*\]/.test(l)), 'progress in the log')
  const answer = await gw.client.chat.completions.create({ model: 'tiny-download', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
  t.equal(answer.choices[0].message.content, 'abc')
})
