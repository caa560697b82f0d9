// Issue 9 item 8: observers can never break the data path. `usage` with strings, negatives
// or 1e400 (= Infinity) once turned a valid answer into a 500 (the metrics listener threw
// inside the request) or a stream into an error event without [DONE]. Usage is normalised
// at the adapter boundary, and a subscriber that throws is logged and ignored.
import t, { type Test } from 'tap'
import { startGateway, postJson, sseData } from '../helpers/gateway.ts'
import { startMockServer } from '../mocks/server.ts'
import { startAnthropicMock } from '../mocks/anthropic.ts'
import { startOllamaMock } from '../mocks/ollama.ts'

const BAD_USAGE = '{"prompt_tokens":"12","completion_tokens":-5,"total_tokens":1e400}'

/** An OpenAI-compatible upstream whose answers are valid except for their usage. */
async function badUsageUpstream(t: Test) {
  const mock = await startMockServer(async (_req, res, request) => {
    const recorded = request.body as { stream?: boolean }
    if (recorded?.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const base = '"id":"c1","object":"chat.completion.chunk","created":1,"model":"m"'
      res.write(`data: {${base},"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}],"usage":null}\n\n`)
      res.write(`data: {${base},"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n`)
      res.write(`data: {${base},"choices":[],"usage":${BAD_USAGE}}\n\n`)
      res.end('data: [DONE]\n\n')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(`{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":${BAD_USAGE}}`)
  })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'odd', ODD_BASE_URL: `${mock.origin}/v1`, ODD_MODELS: 'm' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return gw
}

t.test('OpenAI-compatible: bad usage counts never cost the answer (JSON and stream)', async (t) => {
  const gw = await badUsageUpstream(t)
  const json = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(json.status, 200, json.text)
  t.equal(json.json.choices[0].message.content, 'Hello')
  t.equal(json.json.usage, undefined, 'usage with bad counts is absent, not passed on')

  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }) })
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]', 'the stream ends cleanly')
  t.notOk(data.some((d) => d.includes('"error"')), 'no error event')
  t.notOk(data.some((d) => d.includes('"12"') || d.includes('-5')), 'the bad counts do not reach the client')
  const metrics = await (await fetch(`${gw.url}/metrics`)).text()
  t.match(metrics, /tiergate_upstream_attempts_total\{[^}]*provider="odd"[^}]*outcome="success"[^}]*\} 2/, 'both attempts counted as successes')
})

t.test('Anthropic: string token counts do not concatenate into the usage', async (t) => {
  const anthropic = await startAnthropicMock()
  anthropic.fallback = { text: 'Hi there', usage: { input_tokens: '12' as unknown as number, output_tokens: 5 } }
  const gw = await startGateway({ ANTHROPIC_API_KEY: anthropic.apiKey, ANTHROPIC_BASE_URL: anthropic.baseUrl })
  t.teardown(async () => { await gw.close(); await anthropic.close() })
  const model = anthropic.models[0]
  const json = await postJson(`${gw.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'hi' }] })
  t.equal(json.status, 200, json.text)
  t.equal(json.json.choices[0].message.content, 'Hi there')
  t.equal(json.json.usage, undefined, 'not {"prompt_tokens":"1200",…}')
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }) })
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]')
  t.notOk(data.some((d) => d.includes('"error"')), 'no error event')
})

t.test('Ollama: negative eval counts do not cost the answer', async (t) => {
  const local = await startOllamaMock({ models: ['llama3.2'] })
  local.fallback = { content: 'Hello', promptEvalCount: -1, evalCount: '7' as unknown as number }
  const gw = await startGateway({ PROVIDERS_DISABLED: 'gpt4all,pollinations', OLLAMA_BASE_URL: local.origin, OLLAMA_REMOTE_BASE_URL: '' })
  t.teardown(async () => { await gw.close(); await local.close() })
  const json = await postJson(`${gw.url}/v1/chat/completions`, { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(json.status, 200, json.text)
  t.equal(json.json.usage, undefined)
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama3.2', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }) })
  const data = await sseData(res)
  t.equal(data.at(-1), '[DONE]')
})

t.test('a subscriber that throws is logged and ignored; the answer arrives intact', async (t) => {
  const gw = await badUsageUpstream(t)
  let calls = 0
  for (const event of ['attempt', 'routed', 'usage', 'stream_end'] as const) {
    gw.app.events.on(event, () => { calls++; throw new Error(`subscriber of ${event} exploded`) })
  }
  gw.app.events.on('routed', async () => { calls++; throw new Error('async subscriber exploded') })
  const json = await gw.client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(json.choices[0].message.content, 'Hello')
  let text = ''
  for await (const chunk of await gw.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })) {
    text += chunk.choices[0]?.delta?.content ?? ''
  }
  t.equal(text, 'Hello', 'the stream is whole')
  t.ok(calls >= 5, `the throwing subscribers ran (${calls} calls)`)
  t.ok(gw.logs.some((l) => l.includes('subscriber of attempt exploded') && l.includes('an event subscriber threw')), 'logged with the event')
  t.ok(gw.logs.some((l) => l.includes('async subscriber exploded')), 'an async rejection is caught and logged too')
})
