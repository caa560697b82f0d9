// The Vercel AI SDK (`ai` + `@ai-sdk/openai`), as the README's example uses it: `openai(model)`
// speaks the Responses API, `openai.chat(model)` Chat Completions. Through the gateway over two
// OpenAI-compatible mock tiers: text, streams, tool calls, usage, and fallback it never sees.
import t from 'tap'
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, streamText, tool, jsonSchema } from 'ai'
import { startTwoTiers } from '../helpers/two-tiers.ts'

const MODEL = 'gpt-4o-mini'
const providerFor = (url: string) => createOpenAI({ baseURL: `${url}/v1`, apiKey: 'unused-without-gateway-keys' })

t.test('the README example: generateText over the Responses API', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const openai = providerFor(gw.url)
  const { text, usage, finishReason } = await generateText({ model: openai(MODEL), prompt: 'Hello' })
  t.equal(text, 'Hello from mock')
  t.equal(finishReason, 'stop')
  t.ok((usage.inputTokens ?? 0) > 0 && (usage.outputTokens ?? 0) > 0, 'usage reported')
  t.equal(tier1.chatRequests().length, 1, 'one upstream call')
  t.same(tier1.chatRequests()[0].body.messages, [{ role: 'user', content: 'Hello' }], 'translated to Chat Completions for an OpenAI-compatible provider')
})

t.test('streamText over the Responses API, and over Chat Completions', async (t) => {
  const { gw } = await startTwoTiers(t)
  const openai = providerFor(gw.url)
  for (const model of [openai(MODEL), openai.chat(MODEL)]) {
    const result = streamText({ model, prompt: 'Hello' })
    let text = ''
    for await (const delta of result.textStream) text += delta
    t.equal(text, 'Hello from mock', `${model.provider}: streamed text`)
    t.equal(await result.finishReason, 'stop', `${model.provider}: finish reason`)
  }
})

t.test('a failing tier 1 is invisible: tier 2 answers, streamed and not', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const openai = providerFor(gw.url)
  tier1.script({ fault: 'status', status: 503 }, { fault: 'reset' }, { fault: 'status', status: 503 }, { fault: 'reset' })
  const plain = await generateText({ model: openai(MODEL), prompt: 'Hello', maxRetries: 0 })
  t.equal(plain.text, 'Hello from tier two')
  const streamed = streamText({ model: openai.chat(MODEL), prompt: 'Hello', maxRetries: 0 })
  let text = ''
  for await (const delta of streamed.textStream) text += delta
  t.equal(text, 'Hello from tier two')
})

t.test('a tool call and its result, over the Responses API', async (t) => {
  const { gw, tier1 } = await startTwoTiers(t)
  const openai = providerFor(gw.url)
  tier1.script({ toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }], finishReason: 'tool_calls' }, { content: 'It is sunny in Oslo.' })
  const seen: unknown[] = []
  const result = await generateText({
    model: openai(MODEL),
    prompt: 'Weather in Oslo?',
    tools: {
      get_weather: tool({
        description: 'Weather of a city',
        inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
        execute: async (input) => {
          seen.push(input)
          return { sky: 'sunny' }
        },
      }),
    },
    stopWhen: ({ steps }) => steps.length >= 2,
  })
  t.same(seen, [{ city: 'Oslo' }], 'the SDK ran the tool with the arguments the upstream sent')
  t.equal(result.text, 'It is sunny in Oslo.')
  const second = tier1.chatRequests()[1].body
  t.match(second.messages.at(-1), { role: 'tool', tool_call_id: 'call_1' }, 'the tool result went back upstream as a tool message')
})
