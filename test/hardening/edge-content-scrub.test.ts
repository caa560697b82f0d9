// Issue 9 item 5: an upstream that echoes a configured key inside its answer (JSON or stream,
// split across chunks too) → the key is masked for the client, never stored in the session,
// and counted in tiergate_secrets_scrubbed_total. Nothing else is ever rewritten.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import Anthropic from '@anthropic-ai/sdk'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { MIN_HELD_TAIL_CHARS, SecretMatcher, StreamScrubber, scrubCompletion } from '../../plugins/scrub-content.ts'
import { RAW_JSON, type ChatChunk, type ChatCompletion } from '../../providers/contract.ts'

const KEY = 'Xq7LmN2pR9sT4vW6yZ8aB1cD3eF5gH0j' // Mistral-style: no key shape catches it
const GATEWAY_KEY = 'gw-content-key-1234567'
const UNCONFIGURED = 'sk-proj-NotConfiguredAnywhere0000'

/**
 * A stream holds back only tails of MIN_HELD_TAIL_CHARS or more that could start a key: up to
 * three leading characters of a key may have left before the rest is masked. This folds them
 * into the mask, after checking that no more than that left.
 */
function folded(text: string): string {
  if (text.includes(KEY.slice(0, MIN_HELD_TAIL_CHARS))) return `LEAK: ${text}`
  let out = text
  for (let k = MIN_HELD_TAIL_CHARS - 1; k >= 1; k--) out = out.split(`${KEY.slice(0, k)}[REDACTED]`).join('[REDACTED]')
  return out
}

async function gateway(t: Test) {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_API_KEY: KEY, P_MODELS: 'm', GATEWAY_API_KEYS: GATEWAY_KEY }, { apiKey: GATEWAY_KEY })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return { mock, gw }
}

async function scrubbedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('tiergate_secrets_scrubbed_total{provider="p"}'))
  return line ? Number(line.split(' ').pop()) : 0
}

t.test('JSON answer: the key is masked, other text untouched, counted, kept out of the session', async (t) => {
  const { mock, gw } = await gateway(t)
  const session = randomUUID()
  mock.script({ content: `Your key is ${KEY}; and ${GATEWAY_KEY}. Unrelated: ${UNCONFIGURED}` })
  const answer = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'echo' }], session_id: session } as never) as any
  t.equal(answer.choices[0].message.content, `Your key is [REDACTED]; and [REDACTED]. Unrelated: ${UNCONFIGURED}`, 'exact matches only: a key-shaped string nobody configured stays')
  t.equal(await scrubbedCount(gw.url), 2)
  const stored = await (await fetch(`${gw.url}/sessions/${session}`, { headers: { authorization: `Bearer ${GATEWAY_KEY}` } })).text()
  t.notOk(stored.includes(KEY), 'the session history does not hold the key')
  t.ok(stored.includes('[REDACTED]'))

  mock.script({ content: 'Nothing secret here.' })
  const plain = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(plain.choices[0].message.content, 'Nothing secret here.')
  t.equal(await scrubbedCount(gw.url), 2, 'nothing counted for a clean answer')
})

t.test('stream: a key split across chunks is masked; text around it arrives intact; the session holds no key', async (t) => {
  const { mock, gw } = await gateway(t)
  const content = `Start ${KEY} middle ${KEY}. End with s`
  for (const pieces of [3, 7, 13, content.length]) {
    const session = randomUUID()
    mock.script({ content, pieces })
    const stream = await gw.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'echo' }], session_id: session } as never) as any
    let text = ''
    let finished = 0
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.content
      if (delta) t.notOk(delta.includes(KEY.slice(0, 8)), `no chunk carries a large part of the key (${pieces} pieces)`)
      text += delta ?? ''
      if (chunk.choices[0]?.finish_reason) finished++
    }
    t.equal(folded(text), 'Start [REDACTED] middle [REDACTED]. End with s', `${pieces} pieces: reassembled text`)
    t.equal(finished, 1)
    const stored = await (await fetch(`${gw.url}/sessions/${session}`, { headers: { authorization: `Bearer ${GATEWAY_KEY}` } })).json() as any
    t.equal(stored.messages.at(-1).content, text, 'stored as the client saw it')
  }
  t.equal(await scrubbedCount(gw.url), 8)

  // Tool-call arguments are content too.
  mock.script({ toolCalls: [{ id: 'call_1', name: 'save', arguments: JSON.stringify({ token: KEY }) }] })
  const stream = await gw.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'call' }], tools: [{ type: 'function', function: { name: 'save', parameters: {} } }] })
  let args = ''
  for await (const chunk of stream) for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) args += call.function?.arguments ?? ''
  t.equal(args, JSON.stringify({ token: '[REDACTED]' }))
})

t.test('every dialect gets scrubbed answers: Anthropic Messages and OpenAI Responses, JSON and stream', async (t) => {
  const { mock, gw } = await gateway(t)
  const anthropic = new Anthropic({ baseURL: gw.url, apiKey: GATEWAY_KEY, maxRetries: 0 })
  mock.script({ content: `messages json ${KEY}` }, { content: `messages stream ${KEY}`, pieces: 9 })
  const message = await anthropic.messages.create({ model: 'm', max_tokens: 50, messages: [{ role: 'user', content: 'echo' }] })
  t.same(message.content.map((b: any) => b.text), ['messages json [REDACTED]'])
  let streamed = ''
  for await (const event of await anthropic.messages.create({ model: 'm', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'echo' }] })) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') streamed += event.delta.text
  }
  t.equal(folded(streamed), 'messages stream [REDACTED]')

  mock.script({ content: `responses json ${KEY}` }, { content: `responses stream ${KEY}`, pieces: 9 })
  const response = await gw.client.responses.create({ model: 'm', input: 'echo', store: false })
  t.equal(response.output_text, 'responses json [REDACTED]')
  let text = ''
  for await (const event of await gw.client.responses.create({ model: 'm', input: 'echo', store: false, stream: true })) {
    if (event.type === 'response.output_text.delta') text += event.delta
  }
  t.equal(folded(text), 'responses stream [REDACTED]')
  t.equal(await scrubbedCount(gw.url), 4)
})

// ── the pure scrubber ──
const matcher = new SecretMatcher([KEY, 'short'])

function chunk(content: string | undefined, finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk {
  const delta = content === undefined ? {} : { content }
  return { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] }
}

t.test('StreamScrubber: every split point of a key, with and without a finish chunk', async (t) => {
  const text = `a ${KEY} b`
  for (let cut = 0; cut <= text.length; cut++) {
    for (const withFinish of [true, false]) {
      const scrubber = new StreamScrubber(matcher)
      const out = [chunk(text.slice(0, cut)), chunk(text.slice(cut)), ...(withFinish ? [chunk(undefined, 'stop')] : [])].map((c) => scrubber.accept(c))
      const rest = scrubber.finish()
      if (rest) out.push(rest)
      const joined = out.map((c) => c.choices[0]?.delta.content ?? '').join('')
      if (folded(joined) !== 'a [REDACTED] b') t.fail(`cut ${cut}, finish ${withFinish}: ${joined}`)
      t.equal(scrubber.scrubbed, 1)
    }
  }
  t.equal(new SecretMatcher(['short']).empty, true, 'secrets under 8 characters are not scrubbed from content (they would hit words)')
})

t.test('StreamScrubber: a clean chunk is passed as the same object (RAW_JSON kept); a changed one loses RAW_JSON', async (t) => {
  const scrubber = new StreamScrubber(matcher)
  const clean = chunk('hello world')
  clean[RAW_JSON] = JSON.stringify(clean)
  t.equal(scrubber.accept(clean), clean)
  const dirty = chunk(`x ${KEY}`)
  dirty[RAW_JSON] = JSON.stringify(dirty)
  const out = scrubber.accept(dirty)
  t.not(out, dirty)
  t.equal(out[RAW_JSON], undefined)
  t.equal(out.choices[0].delta.content, 'x [REDACTED]')
  t.equal(dirty.choices[0].delta.content, `x ${KEY}`, 'the original chunk is not mutated')
})

t.test('scrubCompletion: message text, reasoning, refusal and tool arguments; untouched otherwise', async (t) => {
  const completion: ChatCompletion = {
    id: 'x', object: 'chat.completion', created: 1, model: 'm',
    choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `k=${KEY}`, reasoning_content: KEY, refusal: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: `{"a":"${KEY}"}` } }] } }],
  }
  const { value, count } = scrubCompletion(matcher, completion)
  t.equal(count, 3)
  t.same(value.choices[0].message, { role: 'assistant', content: 'k=[REDACTED]', reasoning_content: '[REDACTED]', refusal: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":"[REDACTED]"}' } }] })
  const clean = { ...completion, choices: [{ ...completion.choices[0], message: { role: 'assistant' as const, content: 'fine' } }] }
  t.equal(scrubCompletion(matcher, clean).value, clean, 'the same object when nothing matched')
})

t.test('StreamScrubber: a chunk that merely ends like the start of a key is not held (its upstream bytes are kept)', async (t) => {
  const skMatcher = new SecretMatcher(['sk-test-abcdefghijklmnop'])
  const scrubber = new StreamScrubber(skMatcher)
  const words = chunk('the results')
  words[RAW_JSON] = JSON.stringify(words)
  t.equal(scrubber.accept(words), words, 'a one-character tail ("s") that could start a key is sent as it is')
  const next = chunk('k-test-abcdefghijklmnop is the key')
  t.equal(scrubber.accept(next).choices[0].delta.content, '[REDACTED] is the key', 'the rest of a key that began in the last chunk is still masked')
  t.equal(scrubber.scrubbed, 1)
})

t.test('StreamScrubber: held reasoning is released before the answer text that follows it', async (t) => {
  const scrubber = new StreamScrubber(matcher)
  const reasoning: ChatChunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { reasoning_content: `think ${KEY.slice(0, 5)}` }, finish_reason: null }] }
  t.equal(scrubber.accept(reasoning).choices[0].delta.reasoning_content, 'think ', 'a five-character tail that could start the key is held')
  const answer = scrubber.accept(chunk('The answer.'))
  t.same(answer.choices[0].delta, { reasoning_content: KEY.slice(0, 5), content: 'The answer.' }, 'the held reasoning leaves with the first answer text, not after it')
  t.equal(scrubber.finish(), undefined, 'nothing left to release at the end')
})
