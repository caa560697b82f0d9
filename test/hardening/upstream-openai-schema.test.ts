// Issue 9 item 18: every answer and chunk tiergate translates from another dialect is a valid
// OpenAI chat.completion / chat.completion.chunk per OpenAI's own OpenAPI spec (answers from
// Ollama lacked `message.refusal`, which the spec requires). The schemas are copied from
// openai/openai-openapi (test/fixtures/openai-chat-schemas.json names the commit and version)
// and checked with Ajv — a transitive dependency (of fastify), used here in a test only.
import t, { type Test } from 'tap'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { startGateway, postJson, sseData, type Gateway } from '../helpers/gateway.ts'
import { startOllamaMock } from '../mocks/ollama.ts'
import { startAnthropicMock } from '../mocks/anthropic.ts'
import { startGpt4AllMock } from '../mocks/gpt4all.ts'
import { startPollinationsMock } from '../mocks/pollinations.ts'
import { startG4FMock } from '../mocks/g4f.ts'

const require = createRequire(import.meta.url)
const Ajv = require('ajv') as new (options: object) => { addSchema(schema: object, key: string): void; getSchema(ref: string): ((data: unknown) => boolean) & { errors?: unknown } }
const spec = JSON.parse(readFileSync(new URL('../fixtures/openai-chat-schemas.json', import.meta.url), 'utf8'))
/** OpenAPI 3.0's `nullable` beside an `enum` admits null (the fixture's `read-as` note). */
function nullableEnums(node: unknown): void {
  if (typeof node !== 'object' || node === null) return
  const schema = node as { nullable?: boolean; enum?: unknown[] }
  if (schema.nullable === true && Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum.push(null)
  for (const child of Object.values(node)) nullableEnums(child)
}
nullableEnums(spec)
const ajv = new Ajv({ strict: false, allErrors: true })
ajv.addSchema(spec, 'openai')
const completionSchema = ajv.getSchema('openai#/components/schemas/CreateChatCompletionResponse')
const chunkSchema = ajv.getSchema('openai#/components/schemas/CreateChatCompletionStreamResponse')

function valid(t: Test, validate: typeof completionSchema, value: unknown, what: string): void {
  const ok = validate(value)
  t.ok(ok, `${what} is valid${ok ? '' : `: ${JSON.stringify(validate.errors)} in ${JSON.stringify(value).slice(0, 400)}`}`)
}

const MESSAGES = [{ role: 'user', content: 'hi' }]

/** One JSON answer and one stream (with usage), every chunk validated. */
async function validateBoth(t: Test, gw: Gateway, model: string, label: string, extra: Record<string, unknown> = {}) {
  const json = await postJson(`${gw.url}/v1/chat/completions`, { model, messages: MESSAGES, ...extra })
  t.equal(json.status, 200, `${label} JSON: ${json.text.slice(0, 200)}`)
  valid(t, completionSchema, json.json, `${label} chat.completion`)
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: MESSAGES, stream: true, stream_options: { include_usage: true }, ...extra }) })
  t.equal(res.status, 200)
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]', `${label} stream ends with [DONE]`)
  const chunks = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d))
  t.ok(chunks.length > 1, `${label}: ${chunks.length} chunks`)
  chunks.forEach((chunk, i) => valid(t, chunkSchema, chunk, `${label} chunk ${i}`))
}

t.test('the fixture really checks: a message without refusal is invalid', async (t) => {
  t.notOk(completionSchema({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, logprobs: null, finish_reason: 'stop' }] }))
  t.notOk(chunkSchema({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'done' }] }))
})

t.test('Ollama (native NDJSON) → OpenAI: text, thinking, tool calls', async (t) => {
  const local = await startOllamaMock({ models: ['qwen3'] })
  const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_BASE_URL: local.origin, OLLAMA_REMOTE_BASE_URL: '' })
  t.teardown(async () => { await gw.close(); await local.close() })
  local.fallback = { content: 'Hello there', thinking: 'Say hello' }
  await validateBoth(t, gw, 'qwen3', 'ollama text')
  local.fallback = { toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] }
  await validateBoth(t, gw, 'qwen3', 'ollama tools', { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] })
})

t.test('Anthropic (Messages SSE) → OpenAI: text, thinking, tool use', async (t) => {
  const anthropic = await startAnthropicMock()
  const gw = await startGateway({ ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl })
  t.teardown(async () => { await gw.close(); await anthropic.close() })
  const model = anthropic.models[0]
  anthropic.fallback = { text: 'Hello there', thinking: 'Greet' }
  await validateBoth(t, gw, model, 'anthropic text')
  anthropic.fallback = { toolUses: [{ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }], stopReason: 'tool_use' }
  await validateBoth(t, gw, model, 'anthropic tools', { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] })
})

t.test('GPT4All (JSON only) → OpenAI, and its JSON replayed as chunks', async (t) => {
  const gpt4all = await startGpt4AllMock()
  const gw = await startGateway({ PROVIDERS_DISABLED: 'ollama,pollinations', GPT4ALL_BASE_URL: gpt4all.baseUrl })
  t.teardown(async () => { await gw.close(); await gpt4all.close() })
  gpt4all.fallback = { content: 'Hello from GPT4All' }
  await validateBoth(t, gw, gpt4all.models[0], 'gpt4all')
})

t.test('Pollinations (legacy) → OpenAI', async (t) => {
  const polli = await startPollinationsMock()
  const gw = await startGateway({ PROVIDERS_DISABLED: 'ollama,gpt4all', POLLINATIONS_BASE_URL: polli.legacyBaseUrl })
  t.teardown(async () => { await gw.close(); await polli.close() })
  polli.fallback = { content: 'Hello from Pollinations' }
  await validateBoth(t, gw, 'openai', 'pollinations')
})

t.test('G4F → OpenAI', async (t) => {
  const g4f = await startG4FMock({ models: { main: ['gpt-4o-mini'] } })
  const gw = await startGateway({ G4F_MAIN_API_BASE: g4f.base('main') })
  t.teardown(async () => { await gw.close(); await g4f.close() })
  g4f.fallback = { content: 'Hello from G4F' }
  await validateBoth(t, gw, 'gpt-4o-mini', 'g4f')
})
