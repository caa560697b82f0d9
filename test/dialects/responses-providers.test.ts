// /v1/responses translated onto the other upstream dialects — Anthropic Messages and Ollama's
// native API — through the official openai SDK: text, reasoning, tools, usage, streams, and a
// previous_response_id chain that moves from one provider to another when the first fails.
import t, { type Test } from 'tap'
import { startAnthropicMock, anthropicError } from '../mocks/anthropic.ts'
import { startOllamaMock } from '../mocks/ollama.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'

const CLAUDE = 'claude-sonnet-4-5'

async function anthropicSetup(t: Test) {
  const anthropic = await startAnthropicMock()
  const backup = await startOpenAIMock({ models: [CLAUDE] })
  backup.fallback = { content: 'Hello from the backup tier' }
  const gw = await startGateway({
    ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl, ANTHROPIC_MODELS: CLAUDE,
    CUSTOM_PROVIDERS: 'backup', BACKUP_BASE_URL: backup.baseUrl, PROVIDER_PRIORITY_BACKUP: '9', RETRY_SAME_PROVIDER: '0',
  })
  t.teardown(async () => { await gw.close(); await anthropic.close(); await backup.close() })
  return { gw, anthropic, backup }
}

t.test('Anthropic: instructions → system, thinking → a reasoning item, cache reads → cached_tokens', async (t) => {
  const { gw, anthropic } = await anthropicSetup(t)
  anthropic.script({ thinking: 'The user greets me.', text: 'Hello!', usage: { input_tokens: 20, output_tokens: 6, cache_read_input_tokens: 100 } })
  const response = await gw.client.responses.create({ model: CLAUDE, instructions: 'Be warm.', input: 'hi', max_output_tokens: 2000 })
  t.match(response.output, [
    { type: 'reasoning', summary: [{ type: 'summary_text', text: 'The user greets me.' }] },
    { type: 'message', content: [{ type: 'output_text', text: 'Hello!' }] },
  ])
  t.match(response.usage, { input_tokens_details: { cached_tokens: 100 }, output_tokens: 6 })
  t.match(anthropic.messageRequests()[0].body, { system: 'Be warm.', max_tokens: 2000, messages: [{ role: 'user', content: 'hi' }] })

  // (A thought ending in `s` would show HARDEN-EDGE's secret scrubber holding back a prefix of the
  // mock key, `sk-ant-…`, on the reasoning channel until the finish — after the text: reported.)
  anthropic.script({ thinking: 'Streaming thoughts.', text: 'Streamed hello', pieces: 4 })
  const stream = gw.client.responses.stream({ model: CLAUDE, input: 'hi' })
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  const final = await stream.finalResponse()
  t.equal(final.output_text, 'Streamed hello')
  t.match(final.output[0], { type: 'reasoning', summary: [{ text: 'Streaming thoughts.' }] })
  t.ok(types.includes('response.reasoning_summary_text.delta') && types.includes('response.reasoning_summary_text.done'))
  t.equal(types.at(-1), 'response.completed')
})

t.test('Anthropic: a tool round trip (tool_use ↔ function_call, function_call_output ↔ tool_result), streamed', async (t) => {
  const { gw, anthropic } = await anthropicSetup(t)
  const tools = [{ type: 'function' as const, name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }]
  anthropic.script({ toolUses: [{ id: 'toolu_01', name: 'get_weather', input: { city: 'Paris', days: [1, 2] } }] })
  const stream = gw.client.responses.stream({ model: CLAUDE, input: 'Weather in Paris?', tools })
  const first = await stream.finalResponse()
  const call = first.output.find((o) => o.type === 'function_call')!
  t.match(call, { type: 'function_call', call_id: 'toolu_01', name: 'get_weather' })
  t.same(JSON.parse((call as { arguments: string }).arguments), { city: 'Paris', days: [1, 2] })
  anthropic.script({ text: '18C and sunny.' })
  const second = await gw.client.responses.create({ model: CLAUDE, tools, previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: 'toolu_01', output: '{"temp":18}' }] })
  t.equal(second.output_text, '18C and sunny.')
  const messages = anthropic.messageRequests()[1].body.messages
  t.match(messages[1], { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris', days: [1, 2] } }] })
  t.match(messages[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '{"temp":18}' }] })
})

t.test('a chain moves on: first turn on Anthropic, second on the next tier while Anthropic is overloaded', async (t) => {
  const { gw, anthropic, backup } = await anthropicSetup(t)
  anthropic.script({ text: 'I will remember 42.' })
  const first = await gw.client.responses.create({ model: CLAUDE, input: 'Remember 42.' })
  anthropic.script(anthropicError(529, 'overloaded_error', 'Overloaded'))
  backup.script({ content: 'You said 42.' })
  const second = await gw.client.responses.stream({ model: CLAUDE, input: 'What number?', previous_response_id: first.id }).finalResponse()
  t.equal(second.output_text, 'You said 42.')
  t.same(backup.chatRequests()[0].body.messages, [
    { role: 'user', content: 'Remember 42.' },
    { role: 'assistant', content: 'I will remember 42.' },
    { role: 'user', content: 'What number?' },
  ])
  t.equal((await gw.client.responses.retrieve(second.id)).previous_response_id, first.id)
})

t.test('Ollama: text, thinking and tools through its native API; a stream cut after commit is response.failed', async (t) => {
  const local = await startOllamaMock()
  const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_HOST: local.origin.replace('http://', ''), OLLAMA_REMOTE_BASE_URL: 'http://127.0.0.1:9/v1', BREAKER_VOLUME_THRESHOLD: '100', RETRY_SAME_PROVIDER: '0' })
  t.teardown(async () => { await gw.close(); await local.close() })
  local.script({ thinking: 'Count letters', content: 'There are 3', promptEvalCount: 12, evalCount: 7 })
  const response = await gw.client.responses.create({ model: 'qwen3:8b', input: 'r in strawberry?', reasoning: { effort: 'low' } })
  t.equal(response.output_text, 'There are 3')
  t.match(response.output[0], { type: 'reasoning', summary: [{ text: 'Count letters' }] })
  t.match(response.usage, { input_tokens: 12, output_tokens: 7, total_tokens: 19 })
  t.equal(local.chatRequests()[0].body.think, 'low')

  local.script({ toolCalls: [{ name: 'get_time', arguments: { tz: 'CET' } }] })
  const streamed = await gw.client.responses.stream({ model: 'qwen3:8b', input: 'time?', tools: [{ type: 'function', name: 'get_time', parameters: { type: 'object' }, strict: false }] }).finalResponse()
  t.match(streamed.output, [{ type: 'function_call', name: 'get_time', arguments: '{"tz":"CET"}' }])

  local.fallback = { content: 'one two three four five', pieces: 5, cutAfter: 2 }
  const stream = gw.client.responses.stream({ model: 'qwen3:8b', input: 'count' })
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  t.equal(types.at(-1), 'response.failed')
  t.notOk(types.includes('response.completed'))
})
