// Provider `local` runs a real GGUF file in-process (node-llama-cpp). The model is the tiny
// generated one (test/setup/tiny-gguf.ts): it always answers "abcdefghijklmnopqrstuvwxyzab…"
// and never stops on its own, so max_tokens, stop and streaming can be asserted exactly.
import t from 'tap'
import { startLocalGateway, localStatus } from './fixture.ts'
import { tinyModelReply } from '../setup/tiny-gguf.ts'
import { postJson } from '../helpers/gateway.ts'

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

t.test('LOCAL_MODEL_ID renames the model; GPT4ALL_MODEL_PATH is the seed\'s name for the path', async (t) => {
  const gw = await startLocalGateway(t, { LOCAL_MODEL_ID: 'my-local' })
  t.same((await gw.client.models.list()).data.map((m) => m.id), ['my-local'])
  const answer = await gw.client.chat.completions.create({ model: 'my-local', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
  t.equal(answer.choices[0].message.content, 'abc')
  t.equal(answer.model, 'my-local')
})
