// Ollama through the gateway with the OpenAI SDK: local models really go to the local
// server's native /api/chat (NDJSON) and are translated both ways; other models and aliases
// go to the remote OpenAI-compatible backup; embeddings via /api/embed.
import t from 'tap'
import { ollamaSetup } from './ollama-fixture.ts'
import { embeddingVector } from '../mocks/ollama.ts'
import { postJson, sseData } from '../helpers/gateway.ts'
import { base64ToFloats } from '../../routes/v1/embeddings.ts'

const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

t.test('a local model goes to the local server, not the remote backup', async (t) => {
  const { gw, local, remote } = await ollamaSetup(t)
  const { data, response } = await gw.client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
  t.equal(data.choices[0].message.content, 'Hello from Ollama')
  t.equal(data.choices[0].finish_reason, 'stop')
  t.equal(data.object, 'chat.completion')
  t.match(data.id, /^chatcmpl-/)
  t.equal(data.created, Math.floor(Date.parse('2025-10-26T17:15:24.097Z') / 1000), 'created comes from created_at')
  t.same(data.usage, { prompt_tokens: 26, completion_tokens: 282, total_tokens: 308 })
  t.equal(response.headers.get('x-tiergate-provider'), 'ollama')
  t.equal(local.chatRequests().length, 1)
  t.equal(remote.chatRequests().length, 0)
  // `llama3.2` is Ollama's short name for the `llama3.2:latest` it listed.
  t.same(local.chatRequests()[0].body, { model: 'llama3.2:latest', messages: [{ role: 'user', content: 'hi' }], stream: false })
})

t.test('the OpenAI request is mapped onto /api/chat', async (t) => {
  const { gw, local } = await ollamaSetup(t)
  await gw.client.chat.completions.create({
    model: 'qwen3:8b',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'developer', content: 'Use tools.' },
      { role: 'user', content: [{ type: 'text', text: 'What is in' }, { type: 'text', text: 'this picture?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":2}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    ],
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    response_format: { type: 'json_object' },
    temperature: 0.2,
    top_p: 0.9,
    seed: 42,
    stop: 'END',
    max_completion_tokens: 64,
    frequency_penalty: 0.5,
    reasoning_effort: 'low',
  })
  t.same(local.chatRequests()[0].body, {
    model: 'qwen3:8b',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Use tools.' },
      { role: 'user', content: 'What is in\nthis picture?', images: [PNG_BASE64] },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', function: { index: 0, name: 'get_weather', arguments: { city: 'Paris', days: 2 } } }] },
      { role: 'tool', content: '{"temp":21}', tool_call_id: 'call_1', tool_name: 'get_weather' },
    ],
    stream: false,
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    format: 'json',
    options: { temperature: 0.2, top_p: 0.9, seed: 42, stop: ['END'], num_predict: 64, frequency_penalty: 0.5 },
    think: 'low',
  })

  const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] }
  await gw.client.chat.completions.create({
    model: 'qwen3:8b',
    messages: [{ role: 'user', content: 'hi' }],
    response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } },
    max_tokens: 10,
    stop: ['a', 'b'],
    reasoning_effort: 'none' as never,
    tools: [{ type: 'function', function: { name: 'unused' } }],
    tool_choice: 'none',
  })
  const second = local.chatRequests()[1].body
  t.same(second.format, schema, 'json_schema → the schema itself')
  t.same(second.options, { stop: ['a', 'b'], num_predict: 10 })
  t.equal(second.think, false, 'reasoning effort none → think false')
  t.notOk('tools' in second, 'tool_choice none: the model is not offered the tools')
})

t.test('stream: content, thinking as reasoning_content, usage chunk, [DONE]', async (t) => {
  const { gw, local } = await ollamaSetup(t)
  local.fallback = { thinking: 'Count the r letters', content: 'There are 3', pieces: 3, promptEvalCount: 12, evalCount: 7 }
  const stream = await gw.client.chat.completions.create({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'strawberry?' }], stream: true, stream_options: { include_usage: true } })
  let content = ''
  let reasoning = ''
  const finishes: string[] = []
  let usage
  let ids = new Set<string>()
  for await (const chunk of stream) {
    ids.add(chunk.id)
    const choice = chunk.choices[0]
    content += choice?.delta?.content ?? ''
    reasoning += (choice?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? ''
    if (choice?.finish_reason) finishes.push(choice.finish_reason)
    if (chunk.usage) {
      usage = chunk.usage
      t.same(chunk.choices, [], 'usage arrives in a choices: [] chunk')
    }
  }
  t.equal(content, 'There are 3')
  t.equal(reasoning, 'Count the r letters')
  t.same(finishes, ['stop'])
  t.same(usage, { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 })
  t.equal(ids.size, 1, 'one id through the stream')
  t.equal(local.chatRequests()[0].body.stream, true)

  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen3:8b', stream: true, messages: [{ role: 'user', content: 'hi' }] }) })
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]')
  t.same(JSON.parse(data[0]).choices[0].delta.role, 'assistant')
  t.notOk(data.slice(0, -1).some((d) => JSON.parse(d).usage), 'no usage chunk unless asked')
})

t.test('tool calls: object arguments become JSON strings with call ids', async (t) => {
  const { gw, local } = await ollamaSetup(t)
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]
  local.script({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris', unit: 'C' } }, { name: 'get_time', arguments: { tz: 'CET' }, id: 'call_fromollama' }] })
  const data = await gw.client.chat.completions.create({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'weather?' }], tools })
  const message = data.choices[0].message
  t.equal(data.choices[0].finish_reason, 'tool_calls')
  t.equal(message.content, null)
  t.equal(message.tool_calls?.length, 2)
  const [first, second] = message.tool_calls as Array<{ id: string; type: string; function: { name: string; arguments: string } }>
  t.match(first.id, /^call_[0-9a-f]{24}$/)
  t.same(first.function, { name: 'get_weather', arguments: '{"city":"Paris","unit":"C"}' })
  t.same(JSON.parse(first.function.arguments), { city: 'Paris', unit: 'C' })
  t.equal(second.id, 'call_fromollama', "Ollama's own id is kept when it sends one")

  // Streamed: the SDK's stream helper assembles the same calls.
  local.script({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] })
  const runner = gw.client.chat.completions.stream({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'weather?' }], tools })
  const final = await runner.finalChatCompletion()
  t.equal(final.choices[0].finish_reason, 'tool_calls')
  const call = final.choices[0].message.tool_calls?.[0] as { id: string; function: { name: string; arguments: string } }
  t.equal(call.function.name, 'get_weather')
  t.equal(call.function.arguments, '{"city":"Oslo"}')
  t.match(call.id, /^call_/)
})

t.test('done_reason length → finish_reason length', async (t) => {
  const { gw, local } = await ollamaSetup(t)
  local.script({ content: 'cut sho', doneReason: 'length' }, { content: 'cut sho', doneReason: 'length' })
  const data = await gw.client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
  t.equal(data.choices[0].finish_reason, 'length')
  const stream = await gw.client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stream: true })
  const finishes: string[] = []
  for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason)
  t.same(finishes, ['length'])
})

t.test('other models and aliases go to the remote backup', async (t) => {
  const { gw, local, remote } = await ollamaSetup(t, { OLLAMA_MODEL_ALIASES: 'small=qwen3:8b' })
  const viaAlias = await gw.client.chat.completions.create({ model: 'gpt-oss-120b', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(viaAlias.choices[0].message.content, 'Hello from the remote backup')
  t.equal(remote.chatRequests()[0].body.model, 'gpt-oss:120b', 'the alias resolves before routing')
  t.equal(remote.chatRequests()[0].url, '/v1/chat/completions')

  const stream = await gw.client.chat.completions.create({ model: 'deepseek-v3.1:671b', messages: [{ role: 'user', content: 'hi' }], stream: true })
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  t.equal(text, 'Hello from the remote backup')
  t.equal(local.chatRequests().length, 0, 'the local server saw none of it')

  // An alias (from OLLAMA_MODEL_ALIASES) whose target is local goes local.
  const viaLocalAlias = await gw.client.chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(viaLocalAlias.choices[0].message.content, 'Hello from Ollama')
  t.equal(local.chatRequests()[0].body.model, 'qwen3:8b')
  t.equal(remote.chatRequests().length, 2)
})

t.test('embeddings via /api/embed decode correctly with the SDK default (base64)', async (t) => {
  const { gw, local } = await ollamaSetup(t)
  const res = await gw.client.embeddings.create({ model: 'nomic-embed-text', input: ['first', 'second'] })
  t.same(res.data.map((d) => d.embedding), [embeddingVector(0, 4), embeddingVector(1, 4)])
  t.same(res.data.map((d) => d.index), [0, 1])
  t.same(res.usage, { prompt_tokens: 8, total_tokens: 8 })
  t.same(local.embedRequests()[0].body, { model: 'nomic-embed-text:latest', input: ['first', 'second'] })

  const floats = await gw.client.embeddings.create({ model: 'nomic-embed-text', input: 'one', encoding_format: 'float', dimensions: 3 })
  t.same(floats.data[0].embedding, embeddingVector(0, 3))
  t.equal(local.embedRequests()[1].body.dimensions, 3)

  const raw = await postJson(`${gw.url}/v1/embeddings`, { model: 'nomic-embed-text', input: 'one', encoding_format: 'base64' })
  t.type(raw.json.data[0].embedding, 'string', 'base64 when asked')
  t.same(base64ToFloats(raw.json.data[0].embedding), embeddingVector(0, 4))
})

t.test('OLLAMA_API_KEY goes to the remote backup only', async (t) => {
  const { gw, local, remote } = await ollamaSetup(t, { OLLAMA_API_KEY: 'sk-remote-secret-1234' })
  await gw.client.chat.completions.create({ model: 'gpt-oss:120b', messages: [{ role: 'user', content: 'hi' }] })
  await gw.client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(remote.chatRequests()[0].headers.authorization, 'Bearer sk-remote-secret-1234')
  t.equal(remote.requests.find((r) => r.url === '/v1/models')?.headers.authorization, 'Bearer sk-remote-secret-1234', 'discovery too')
  t.notOk(local.chatRequests()[0].headers.authorization, 'the local server never sees the key')
  t.notOk(local.requests.some((r) => r.headers.authorization))
})
