// Mid-stream resume end to end (issue 10 items 1 and 8): a real gateway over scripted mock
// upstreams that fail after commit, the official OpenAI SDK as the client. The client must see
// one answer: the first leg's id, no repeated and no missing text, one finish_reason, one
// [DONE]; or, when nothing can continue, an error event and no [DONE].
import t, { type Test } from 'tap'
import Anthropic from '@anthropic-ai/sdk'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startScriptedUpstream, framesFor, type ScriptedUpstream, type Wire } from '../mocks/scripted-stream.ts'
import { planAnswer, type Reference } from '../mocks/continuation.ts'
import { CONTINUE_INSTRUCTION } from '../../plugins/router/resume/continuation.ts'

const TEXT: Reference = {
  text: 'Paris is the capital of France. It lies on the Seine, and about two million people live there. It is known for its museums, its food and its long history.',
}
const TOOL: Reference = {
  text: 'Let me check the weather.',
  toolCalls: [{ id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius","days":3}' }],
}
const REASONING: Reference = { reasoning: 'The user asks about Paris. Keep it short and factual.', text: TEXT.text }
const messages = [{ role: 'user' as const, content: 'Tell me about Paris.' }]

interface Setup { gw: Gateway; first: ScriptedUpstream; second: ScriptedUpstream }

/** `first` (tier 1) and `second` (tier 2) both serve model `m` and know the same answer. */
async function setup(t: Test, reference: Reference, env: Record<string, string> = {}, wires: [Wire, Wire] = ['openai', 'openai']): Promise<Setup> {
  const first = await startScriptedUpstream({ wire: wires[0], reference })
  const second = await startScriptedUpstream({ wire: wires[1], reference })
  const providerEnv = (name: string, up: ScriptedUpstream, tier: string): Record<string, string> => up.wire === 'openai'
    ? { [`${name}_BASE_URL`]: up.baseUrl, [`${name}_MODELS`]: 'm', [`PROVIDER_PRIORITY_${name}`]: tier }
    : { ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: up.baseUrl, ANTHROPIC_MODELS: 'm', PROVIDER_PRIORITY_ANTHROPIC: tier }
  const custom = [first, second].map((up, i) => (up.wire === 'openai' ? ['first', 'second'][i] : undefined)).filter(Boolean)
  const gw = await startGateway({
    CUSTOM_PROVIDERS: custom.join(','),
    ...providerEnv(first.wire === 'openai' ? 'FIRST' : 'ANTHROPIC', first, '1'),
    ...providerEnv(second.wire === 'openai' ? 'SECOND' : 'ANTHROPIC', second, '2'),
    RETRY_SAME_PROVIDER: '0',
    LOG_LEVEL: 'warn',
    ...env,
  })
  t.teardown(async () => {
    await gw.close()
    await first.close()
    await second.close()
  })
  return { gw, first, second }
}

interface Received {
  ids: Set<string>
  content: string
  reasoning: string
  finishes: string[]
  toolFragments: any[]
  models: string[]
  usage: any
  error?: any
}

async function streamThroughSdk(gw: Gateway, extra: Record<string, unknown> = {}): Promise<Received> {
  const got: Received = { ids: new Set(), content: '', reasoning: '', finishes: [], toolFragments: [], models: [], usage: undefined }
  try {
    const stream = await gw.client.chat.completions.create({ model: 'm', messages, stream: true, ...extra } as any)
    for await (const chunk of stream as any) {
      got.ids.add(chunk.id)
      got.models.push(chunk.model)
      if (chunk.usage) got.usage = chunk.usage
      const choice = chunk.choices[0]
      if (!choice) continue
      got.content += choice.delta?.content ?? ''
      got.reasoning += choice.delta?.reasoning_content ?? ''
      if (choice.finish_reason) got.finishes.push(choice.finish_reason)
      got.toolFragments.push(...(choice.delta?.tool_calls ?? []))
    }
  } catch (err) {
    got.error = err
  }
  return got
}

/** The raw SSE text the gateway wrote (for [DONE], comments and error events). */
async function rawStream(gw: Gateway): Promise<string> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages, stream: true }) })
  return res.text()
}

const frames = (reference: Reference) => framesFor('openai', 'm', planAnswer(reference, messages), false)

t.test('cut after N chunks: the next candidate continues, the client gets one complete answer', async (t) => {
  const { gw, first, second } = await setup(t, TEXT)
  first.script({ cut: frames(TEXT).textFrames[7] })
  const got = await streamThroughSdk(gw)
  t.error(got.error)
  t.equal(got.content, TEXT.text, 'no repeated and no missing text')
  t.same(got.finishes, ['stop'], 'one finish_reason')
  t.equal(got.ids.size, 1, 'one id for the whole answer')
  t.equal([...got.ids][0], 'chatcmpl-scripted-fresh', "the first leg's id")
  t.equal(second.chatRequests().length, 1)
  const continuation = second.chatRequests()[0].body
  // Prefill or continue-instruction (the router picks per provider): the delivered text is the assistant's.
  const assistant = continuation.messages.findLast((m: any) => m.role === 'assistant')
  t.ok(assistant && assistant.content.length > 0 && TEXT.text.startsWith(assistant.content), 'continued from what was delivered')
  t.equal(continuation.stream, true)
  t.notOk('models' in continuation || 'fallbacks' in continuation, 'no per-request chain upstream')

  first.script({ cut: frames(TEXT).textFrames[7] })
  const raw = await rawStream(gw)
  t.equal(raw.match(/data: \[DONE\]/g)?.length, 1, 'one [DONE]')
  t.match(raw, /^: .+$/m, 'the resume is marked by an SSE comment')
  t.equal(raw.match(/"finish_reason":"stop"/g)?.length, 1)
})

t.test('cut inside a tool call: the client receives one whole tool call', async (t) => {
  const { gw, first } = await setup(t, TOOL)
  first.script({ cut: frames(TOOL).toolArgFrames[1] })
  const got = await streamThroughSdk(gw, { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] })
  t.error(got.error)
  t.equal(got.content, TOOL.text)
  t.equal(got.toolFragments.length, 1, 'one fragment: the call whole')
  t.match(got.toolFragments[0], { index: 0, id: 'call_weather_1', type: 'function', function: { name: 'get_weather', arguments: TOOL.toolCalls![0].arguments } })
  t.same(got.finishes, ['tool_calls'])
})

t.test('STREAM_TOOL_CALLS=live: fragments as they come, and a cut inside a call ends honestly', async (t) => {
  const { gw, first } = await setup(t, TOOL, { STREAM_TOOL_CALLS: 'live' })
  first.script({ cut: frames(TOOL).toolArgFrames[1] })
  const got = await streamThroughSdk(gw)
  t.ok(got.error, 'the stream ends with an error')
  t.ok(got.toolFragments.length >= 2, 'the fragments were sent live')
})

t.test('stall: resumed after TIMEOUT_IDLE_MS, within it plus one first byte', async (t) => {
  const idleMs = 400
  const firstByteMs = 5_000
  const { gw, first } = await setup(t, TEXT, { TIMEOUT_IDLE_MS: String(idleMs), TIMEOUT_FIRST_BYTE_MS: String(firstByteMs) })
  first.script({ stall: frames(TEXT).textFrames[5] })
  const arrivals: number[] = []
  let content = ''
  const stream = await gw.client.chat.completions.create({ model: 'm', messages, stream: true })
  for await (const chunk of stream) {
    arrivals.push(performance.now())
    content += chunk.choices[0]?.delta?.content ?? ''
  }
  t.equal(content, TEXT.text)
  const gaps = arrivals.slice(1).map((a, i) => a - arrivals[i])
  const longest = Math.max(...gaps)
  t.ok(longest >= idleMs * 0.9, `the gateway waited out the idle limit (${longest.toFixed(0)} ms)`)
  t.ok(longest < idleMs + firstByteMs, 'and resumed inside idle + first byte')
  await first.waitForNoInFlight()
})

t.test('an in-band error event and a malformed event after commit are resumed like a cut', async (t) => {
  const { gw, first } = await setup(t, TEXT)
  for (const fault of [{ error: 6 }, { malformed: 6 }]) {
    first.script(fault)
    const got = await streamThroughSdk(gw)
    t.error(got.error, JSON.stringify(fault))
    t.equal(got.content, TEXT.text, `${JSON.stringify(fault)}: complete`)
    t.same(got.finishes, ['stop'])
  }
})

t.test('prefill continuation (SECOND_PREFILL=on): the delivered text is the final assistant message, trimmed', async (t) => {
  const { gw, first, second } = await setup(t, TEXT, { SECOND_PREFILL: 'on' })
  first.script({ cut: frames(TEXT).textFrames[9] })
  const got = await streamThroughSdk(gw)
  t.error(got.error)
  t.equal(got.content, TEXT.text)
  const last = second.chatRequests()[0].body.messages.at(-1)
  t.equal(last.role, 'assistant')
  t.ok(TEXT.text.startsWith(last.content) && last.content === last.content.trimEnd(), 'a prefix of the answer, no trailing space')
})

t.test('prefill rejected by the next candidate: a continue-instruction, its start-over cut', async (t) => {
  const { gw, first, second } = await setup(t, TEXT, { SECOND_PREFILL: 'on' })
  second.prefill = 'reject'
  second.style = 'start-over'
  first.script({ cut: frames(TEXT).textFrames[9] })
  const got = await streamThroughSdk(gw)
  t.error(got.error, 'the 400 to a gateway-made prefill is never the client\'s error')
  t.equal(got.content, TEXT.text, 'the repeat is cut: no text twice')
  const bodies = second.chatRequests().map((r) => r.body)
  const instruction = bodies.find((b) => b.messages.at(-1).role === 'user' && b.messages.at(-1).content === CONTINUE_INSTRUCTION)
  t.ok(second.prefillRejections >= 1, 'the prefill was tried and answered 400')
  t.ok(instruction, 'a continue-instruction was sent')
  t.ok(TEXT.text.startsWith(instruction.messages.at(-2).content), 'with the delivered text as the assistant message')
})

t.test('a continuation that repeats the last words: the repeat is cut', async (t) => {
  const { gw, first, second } = await setup(t, TEXT)
  second.style = 'repeat-last-words'
  first.script({ cut: frames(TEXT).textFrames[11] })
  const got = await streamThroughSdk(gw)
  t.error(got.error)
  t.equal(got.content, TEXT.text)
})

t.test('reasoning delivered before the cut is not repeated', async (t) => {
  const { gw, first } = await setup(t, REASONING)
  const f = framesFor('openai', 'm', planAnswer(REASONING, messages), false)
  first.script({ cut: f.textFrames[4] })
  const got = await streamThroughSdk(gw)
  t.error(got.error)
  t.equal(got.reasoning, REASONING.reasoning)
  t.equal(got.content, REASONING.text)
})

t.test('Anthropic primary cut mid-answer, continued on an OpenAI-compatible provider', async (t) => {
  const { gw, first } = await setup(t, TEXT, {}, ['anthropic', 'openai'])
  first.script({ cut: framesFor('anthropic', 'm', planAnswer(TEXT, messages), false).textFrames[8] })
  const got = await streamThroughSdk(gw)
  t.error(got.error)
  t.equal(got.content, TEXT.text)
  t.same(got.finishes, ['stop'])
  t.equal(got.ids.size, 1)
})

t.test('OpenAI-compatible primary cut, continued on Anthropic by prefill (its trailing-space rule holds)', async (t) => {
  // ANTHROPIC_PREFILL=on: the adapter does not declare acceptsPrefill yet (issue 10: Anthropic native takes it).
  // Pieces with the space after the word: the delivered text ends in a space, which a prefill must not.
  const spaced: Reference = { ...TEXT, pieces: 'trailing-space' }
  const { gw, first, second } = await setup(t, spaced, { ANTHROPIC_PREFILL: 'on' }, ['openai', 'anthropic'])
  first.script({ cut: frames(spaced).textFrames[10] })
  const got = await streamThroughSdk(gw)
  t.error(got.error)
  t.equal(got.content, TEXT.text)
  t.same(got.finishes, ['stop'])
  const last = second.chatRequests()[0].body.messages.at(-1)
  t.equal(last.role, 'assistant', 'Anthropic takes a prefill')
})

t.test('Anthropic primary cut inside a tool call: one whole call from the fallback', async (t) => {
  const { gw, first } = await setup(t, TOOL, {}, ['anthropic', 'openai'])
  first.script({ cut: framesFor('anthropic', 'm', planAnswer(TOOL, messages), false).toolArgFrames[1] })
  const got = await streamThroughSdk(gw, { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }] })
  t.error(got.error)
  t.equal(got.content, TOOL.text)
  t.equal(got.toolFragments.length, 1)
  t.equal(got.toolFragments[0].function.arguments, TOOL.toolCalls![0].arguments)
})

t.test('usage after a resume: the final usage counts what the client received, model names the writer', async (t) => {
  const { gw, first } = await setup(t, TEXT)
  first.script({ cut: frames(TEXT).textFrames[7] })
  const got = await streamThroughSdk(gw, { stream_options: { include_usage: true } })
  t.error(got.error)
  t.ok(got.usage && got.usage.completion_tokens > 20 && got.usage.completion_tokens < 60, `completion tokens of the whole answer (${got.usage?.completion_tokens})`)
  t.equal(got.models[0], 'm')
})

t.test('every candidate failing after commit: an error event, no [DONE]', async (t) => {
  const { gw, first, second } = await setup(t, TEXT)
  first.defaultStep = { cut: frames(TEXT).textFrames[3] }
  second.defaultStep = { cut: 3 }
  const got = await streamThroughSdk(gw)
  t.ok(got.error, 'the SDK raises')
  t.ok(got.content.length > 0 && TEXT.text.startsWith(got.content), 'what was delivered is a true prefix (nothing repeated)')
  const raw = await rawStream(gw)
  t.notMatch(raw, /data: \[DONE\]/, 'never a clean-looking end')
  t.match(raw, /"error":\{/, 'an error event')
})

t.test('STREAM_RESUME=0: a cut ends with an error event as before', async (t) => {
  const { gw, first, second } = await setup(t, TEXT, { STREAM_RESUME: '0' })
  first.script({ cut: frames(TEXT).textFrames[3] })
  const got = await streamThroughSdk(gw)
  t.ok(got.error)
  t.equal(second.chatRequests().length, 0, 'no continuation was asked for')
})

t.test('Anthropic SDK on /v1/messages: a native Anthropic stream cut mid-text and inside a tool call is finished by the fallback', async (t) => {
  const { gw, first } = await setup(t, TOOL, {}, ['anthropic', 'openai'])
  const client = new Anthropic({ baseURL: gw.url, apiKey: 'unused', maxRetries: 0, timeout: 20_000 })
  const anthropicFrames = framesFor('anthropic', 'm', planAnswer(TOOL, messages), false)
  const request = { model: 'm', max_tokens: 500, messages, tools: [{ name: 'get_weather', input_schema: { type: 'object' as const } }] }
  for (const cut of [anthropicFrames.textFrames[2], anthropicFrames.toolArgFrames[1]]) {
    first.script({ cut })
    const message = await client.messages.stream(request).finalMessage()
    const text = message.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('')
    const tools = message.content.filter((b) => b.type === 'tool_use') as Array<{ name: string; input: unknown }>
    t.equal(text, TOOL.text, `cut at event ${cut}: the text whole`)
    t.equal(tools.length, 1, 'one tool_use block')
    t.same(tools[0]?.input, JSON.parse(TOOL.toolCalls![0].arguments))
    t.equal(message.stop_reason, 'tool_use')
  }
})
