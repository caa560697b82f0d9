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

t.test('StreamScrubber: a translated chunk (no upstream text) is checked field by field: a key anywhere in it is masked, a clean one passes as itself', async (t) => {
  const scrubber = new StreamScrubber(matcher)
  const base = { id: 'c', object: 'chat.completion.chunk' as const, created: 1, model: 'm' }
  const cases: Array<[string, ChatChunk, (out: ChatChunk) => unknown, unknown]> = [
    ['a citation deep in the delta', { ...base, choices: [{ index: 0, delta: { annotations: [{ url: `https://x.test/?k=${KEY}` }] } as never, finish_reason: null }] }, (o) => (o.choices[0].delta as never as { annotations: Array<{ url: string }> }).annotations[0].url, 'https://x.test/?k=[REDACTED]'],
    ['a top-level extra field', { ...base, trace: { id: KEY } as never, choices: [] } as ChatChunk, (o) => (o as never as { trace: { id: string } }).trace.id, '[REDACTED]'],
  ]
  for (const [name, chunk, pick, expected] of cases) {
    const out = scrubber.accept(chunk)
    t.not(out, chunk, `${name}: a new chunk`)
    t.equal(pick(out), expected, `${name}: masked`)
  }
  const clean = { ...base, choices: [{ index: 0, delta: { content: 'hello', annotations: [{ url: 'https://x.test/' }] } as never, finish_reason: null }] } as ChatChunk
  t.equal(scrubber.accept(clean), clean, 'a clean translated chunk passes as the same object')
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

// ── outside the text channels: fields a client still receives ──
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** An upstream that answers every POST with these bytes (and lists model `m`). */
async function rawUpstream(t: Test, body: () => string): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }))
      }
      const text = body()
      res.writeHead(200, { 'content-type': text.startsWith('{') ? 'application/json' : 'text/event-stream' })
      res.end(text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const sse = (events: unknown[]) => events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n'
const created = 1700000000

t.test('a key in a field no channel covers (annotations, provider extras) is masked too, JSON and stream', async (t) => {
  const completion = {
    id: 'chatcmpl-x', object: 'chat.completion', created, model: 'm', provider_extra: { trace: `token=${KEY}` },
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there', refusal: null, annotations: [{ type: 'url_citation', url_citation: { url: `https://example.test/?key=${KEY}`, title: 't' } }] }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  }
  const base = { id: 'chatcmpl-x', object: 'chat.completion.chunk', created, model: 'm' }
  const chunks = [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { content: 'Hi there' }, logprobs: null, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: { annotations: [{ type: 'url_citation', url_citation: { url: `https://example.test/?key=${KEY}` } }] }, logprobs: null, finish_reason: null }] },
    // The same key spelled with JSON escapes: the upstream's text does not show it, the client's JSON parser would.
    { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], escaped: 'PLACEHOLDER' },
  ]
  const escapedKey = [...KEY].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')
  let stream = false
  const origin = await rawUpstream(t, () => (stream ? sse(chunks).replace('"PLACEHOLDER"', `"${escapedKey}"`) : JSON.stringify(completion)))
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: `${origin}/v1`, P_API_KEY: KEY, P_MODELS: 'm', GATEWAY_API_KEYS: GATEWAY_KEY }, { apiKey: GATEWAY_KEY })
  t.teardown(() => gw.close())
  const headers = { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json' }
  const json = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }) })
  const jsonText = await json.text()
  t.notOk(jsonText.includes(KEY), 'JSON: no key anywhere in the answer')
  const answer = JSON.parse(jsonText)
  t.equal(answer.choices[0].message.content, 'Hi there', 'the text is untouched')
  t.equal(answer.choices[0].message.annotations[0].url_citation.url, 'https://example.test/?key=[REDACTED]')
  t.equal(answer.provider_extra.trace, 'token=[REDACTED]', 'an extra field the gateway does not know is masked too')

  stream = true
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }) })
  const text = await res.text()
  const events = text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)))
  t.notOk(JSON.stringify(events).includes(KEY), 'stream: no key in any event, escaped or not')
  t.equal(events.map((e) => e.choices[0]?.delta?.content ?? '').join(''), 'Hi there')
  t.equal(events[2].choices[0].delta.annotations[0].url_citation.url, 'https://example.test/?key=[REDACTED]')
  t.equal(events[3].escaped, '[REDACTED]')
  t.ok(text.includes(sse([chunks[1]]).replace('data: [DONE]\n\n', '')), 'a clean chunk still goes out as the upstream sent it')
  t.equal(await scrubbedCount(gw.url), 4)
})

t.test('Anthropic native passthrough: a key in an event the translation does not map is masked', async (t) => {
  const message = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 }, container: { id: `ctr_${KEY}` } }
  const anthropicSse = [
    ['message_start', { type: 'message_start', message }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: [{ type: 'char_location', cited_text: KEY, document_index: 0 }] } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } }],
    ['message_stop', { type: 'message_stop' }],
  ].map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`).join('')
  let stream = false
  const origin = await rawUpstream(t, () => (stream ? anthropicSse : JSON.stringify({ ...message, content: [{ type: 'text', text: 'Hello', citations: [{ type: 'char_location', cited_text: KEY }] }], stop_reason: 'end_turn' })))
  const gw = await startGateway({ PROVIDERS_ENABLED: 'anthropic', ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: origin, ANTHROPIC_MODELS: 'claude-x', GATEWAY_API_KEYS: GATEWAY_KEY }, { apiKey: GATEWAY_KEY })
  t.teardown(() => gw.close())
  const client = new Anthropic({ baseURL: gw.url, apiKey: GATEWAY_KEY, maxRetries: 0 })
  const json = await client.messages.create({ model: 'claude-x', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] })
  t.notOk(JSON.stringify(json).includes(KEY), 'JSON: no key')
  t.match(json.content, [{ type: 'text', text: 'Hello' }])
  stream = true
  const raw = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': GATEWAY_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'claude-x', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'x' }] }) })
  const text = await raw.text()
  t.notOk(text.includes(KEY), 'stream: no key in any event')
  t.ok(text.includes('"text":"Hello"') || text.includes('"text_delta","text":"Hello"'), 'the text arrives')
  t.ok(text.includes('event: message_stop'), 'the stream ends as Anthropic streams end')
})

t.test('an audio answer: a key split across the transcript of two chunks is masked; the audio data passes untouched', async (t) => {
  const base = { id: 'chatcmpl-a', object: 'chat.completion.chunk', created, model: 'm' }
  const transcript = `Your key is ${KEY}, read aloud.`
  const cut = 'Your key is '.length + 10 // inside the key, past MIN_HELD_TAIL_CHARS
  const audio = (fields: Record<string, unknown>) => ({ ...base, choices: [{ index: 0, delta: { audio: fields }, logprobs: null, finish_reason: null }] })
  const chunks = [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: null }, logprobs: null, finish_reason: null }] },
    audio({ id: 'audio_1', transcript: transcript.slice(0, cut) }),
    audio({ data: 'UklGRiQAAABXQVZF', transcript: transcript.slice(cut) }),
    audio({ expires_at: 1700003600 }),
    { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
  ]
  const origin = await rawUpstream(t, () => sse(chunks))
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: `${origin}/v1`, P_API_KEY: KEY, P_MODELS: 'm', GATEWAY_API_KEYS: GATEWAY_KEY }, { apiKey: GATEWAY_KEY })
  t.teardown(() => gw.close())
  const stream = await gw.client.chat.completions.create({ model: 'm', stream: true, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'pcm16' }, messages: [{ role: 'user', content: 'read my key' }] })
  const deltas: any[] = []
  for await (const event of stream) deltas.push(...event.choices.map((c) => c.delta))
  const heard = deltas.map((d) => d.audio?.transcript ?? '').join('')
  t.equal(folded(heard), 'Your key is [REDACTED], read aloud.', 'the transcript, joined as a client joins it, holds no key')
  t.notOk(JSON.stringify(deltas).includes(KEY.slice(0, MIN_HELD_TAIL_CHARS)), 'no piece of the key past its first characters went out')
  t.equal(deltas.map((d) => d.audio?.data ?? '').join(''), 'UklGRiQAAABXQVZF', 'the audio itself is untouched')
  t.equal(deltas.find((d) => d.audio?.id)?.audio.id, 'audio_1')
  t.equal(await scrubbedCount(gw.url), 1)
})

t.test('StreamScrubber: a transcript tail held at the end of the stream is released as a transcript', async (t) => {
  const scrubber = new StreamScrubber(matcher)
  const audioChunk = (transcript: string): ChatChunk => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { audio: { transcript } } as never, finish_reason: null }] })
  const out = scrubber.accept(audioChunk(`say ${KEY.slice(0, 6)}`))
  t.equal((out.choices[0].delta as any).audio.transcript, 'say ', 'a tail that could start the key is held')
  const rest = scrubber.finish()
  t.same(rest?.choices.map((c) => c.delta), [{ audio: { transcript: KEY.slice(0, 6) } }], 'released where it belongs, not as content')
})
