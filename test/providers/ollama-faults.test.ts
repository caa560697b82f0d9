// Ollama faults: before the first chunk they fall through to the next tier invisibly; after
// it the SSE stream ends with an error event and no [DONE]. An Ollama `{"error":…}` line is
// a failure, never content.
import t from 'tap'
import { ollamaSetup } from './ollama-fixture.ts'
import { MID_STREAM_ERROR } from '../mocks/ollama.ts'
import type { OllamaStep } from '../mocks/ollama.ts'
import { postJson, sseData } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

const ask = { model: 'llama3.2', messages: [{ role: 'user' as const, content: 'hi' }] }

function streamRequest(url: string) {
  return fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...ask, stream: true }) })
}

const beforeOutput: Array<[string, OllamaStep]> = [
  ['HTTP 500 {"error"}', { fault: 'status', status: 500, body: { error: 'llama runner process has terminated: exit status 2' } }],
  ['HTTP 404 model not found (stale catalog)', { fault: 'status', status: 404, body: { error: "model 'llama3.2:latest' not found" } }],
  ['connection reset', { fault: 'reset' }],
  ['an HTML error page', { fault: 'html' }],
]

for (const [name, step] of beforeOutput) {
  t.test(`${name} falls through to the next tier (JSON and stream)`, async (t) => {
    const { gw, local, backup } = await ollamaSetup(t)
    local.script(step, step)
    const { data, response } = await gw.client.chat.completions.create(ask).withResponse()
    t.equal(data.choices[0].message.content, 'Hello from the next tier')
    t.equal(response.headers.get('x-tiergate-provider'), 'backup')
    t.equal(response.headers.get('x-tiergate-attempts'), '2')
    const res = await streamRequest(gw.url)
    t.equal(res.headers.get('x-tiergate-provider'), 'backup')
    const frames = await sseData(res)
    t.equal(frames.at(-1), '[DONE]')
    t.equal(local.chatRequests().length, 2)
    t.equal(backup.chatRequests().length, 2)
  })
}

const streamBeforeFirstChunk: Array<[string, OllamaStep]> = [
  ['an error line as the first NDJSON line (HTTP 200)', { errorAfter: 0 }],
  ['a malformed first NDJSON line', { malformedAfter: 0 }],
  ['a cut right after the headers', { cutAfter: 0 }],
]

for (const [name, step] of streamBeforeFirstChunk) {
  t.test(`stream: ${name} falls through before anything is committed`, async (t) => {
    const { gw, local } = await ollamaSetup(t)
    local.script(step)
    const res = await streamRequest(gw.url)
    t.equal(res.status, 200)
    t.equal(res.headers.get('x-tiergate-provider'), 'backup')
    const frames = await sseData(res)
    t.equal(frames.at(-1), '[DONE]')
    const text = frames.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('')
    t.equal(text, 'Hello from the next tier')
    t.notMatch(text, /error|tru/, 'nothing of the failed attempt reached the client')
  })
}

const streamAfterFirstChunk: Array<[string, OllamaStep, RegExp, string]> = [
  ['a mid-stream {"error"} line', { content: 'abcdefghij', pieces: 5, errorAfter: 2 }, /error inside the Ollama stream: an error was encountered/, 'abcd'],
  ['a malformed NDJSON line', { content: 'abcdefghij', pieces: 5, malformedAfter: 2 }, /malformed NDJSON line/, 'abcd'],
  ['a stream without its done line', { content: 'abcdefghij', pieces: 5, truncate: true }, /ended before its done line/, 'abcdefghij'],
  ['a connection cut', { content: 'abcdefghij', pieces: 5, cutAfter: 2 }, /failed after it had started/, 'abcd'],
]

for (const [name, step, message, before] of streamAfterFirstChunk) {
  t.test(`stream: ${name} after the first chunk ends with an error event and no [DONE] (STREAM_RESUME=0)`, async (t) => {
    // With resume on (the default) the next candidate continues the answer: test/router/resume.test.ts.
    const { gw, local, backup } = await ollamaSetup(t, { STREAM_RESUME: '0' })
    local.script(step)
    const res = await streamRequest(gw.url)
    t.equal(res.headers.get('x-tiergate-provider'), 'ollama')
    const frames = await sseData(res)
    t.not(frames.at(-1), '[DONE]')
    t.notOk(frames.includes('[DONE]'))
    const last = JSON.parse(frames.at(-1)!)
    t.match(last.error, { type: 'api_error', code: 'upstream_stream_failed' })
    t.match(last.error.message, message)
    const text = frames.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('')
    t.equal(text, before, 'the content before the failure, and nothing else')
    t.notMatch(text, MID_STREAM_ERROR)
    t.equal(backup.chatRequests().length, 0, 'with resume off, a committed stream is never switched to another provider')

    // The SDK surfaces it as an error, not a clean end.
    local.script(step)
    const stream = await gw.client.chat.completions.create({ ...ask, stream: true })
    await t.rejects(async () => { for await (const _ of stream) { /* drain */ } }, /failed after it had started/)
  })
}

t.test('a model without tool support (Ollama 400 "does not support tools") falls through', async (t) => {
  const { gw, local, backup } = await ollamaSetup(t)
  local.noTools = ['llama3.2:latest']
  const data = await gw.client.chat.completions.create({ ...ask, tools: [{ type: 'function', function: { name: 'f' } }] })
  t.equal(data.choices[0].message.content, 'Hello from the next tier')
  t.equal(local.chatRequests().length, 1)
  t.equal(backup.chatRequests().length, 1)
})

t.test('an image link (Ollama takes base64 only) is left to another provider without calling Ollama', async (t) => {
  const { gw, local } = await ollamaSetup(t)
  const { response } = await gw.client.chat.completions.create({
    model: 'llama3.2',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
  }).withResponse()
  t.equal(response.headers.get('x-tiergate-provider'), 'backup')
  t.equal(local.chatRequests().length, 0)
})

t.test('an Ollama-only model that fails: 503 all_providers_failed naming Ollama and why', async (t) => {
  const { gw, local } = await ollamaSetup(t)
  local.script({ fault: 'status', status: 500, body: { error: 'llama runner process has terminated' } })
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'qwen3:8b', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(res.status, 503)
  t.equal(res.json.error.code, 'all_providers_failed')
  t.match(res.json.error.message, /ollama \(tier 4\): HTTP 500: llama runner process has terminated/)
})

t.test('embedding faults fall through too', async (t) => {
  const { gw, local, backup } = await ollamaSetup(t)
  local.embedSteps.push({ fault: 'status', status: 500, body: { error: 'boom' } })
  const { response } = await gw.client.embeddings.create({ model: 'nomic-embed-text', input: 'x' }).withResponse()
  t.equal(response.headers.get('x-tiergate-provider'), 'backup')
  t.equal(local.embedRequests().length, 1)
  t.equal(backup.requests.filter((r) => r.url === '/v1/embeddings').length, 1)
})

/** The mock marks a request aborted once the gateway closed it; that happens just after the client's response ends. */
t.test('stream: a silent local server hits the idle timeout (error event, no [DONE], STREAM_RESUME=0)', async (t) => {
  const { gw, local } = await ollamaSetup(t, { OLLAMA_TIMEOUT_IDLE_MS: '300', STREAM_RESUME: '0' })
  local.script({ content: 'abcdefghij', pieces: 5, stallAfter: 2 })
  const res = await streamRequest(gw.url)
  const frames = await sseData(res)
  t.notOk(frames.includes('[DONE]'))
  t.match(JSON.parse(frames.at(-1)!).error, { code: 'upstream_timeout' })
  await waitFor(() => local.chatRequests()[0].aborted, 'the stalled upstream request to be closed', 3000)

})

t.test('stream: a client that leaves mid-stream frees the upstream at once', async (t) => {
  // An idle limit far beyond the 3 s poll: an abort seen within it can only be the client's.
  const { gw, local } = await ollamaSetup(t, { OLLAMA_TIMEOUT_IDLE_MS: '60000' })
  local.script({ content: 'abcdefghij', pieces: 5, stallAfter: 2 })
  const stream = await gw.client.chat.completions.create({ ...ask, stream: true })
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) break // the client has seen content and goes away
  }
  await waitFor(() => local.chatRequests()[0].aborted, 'the gateway to close its upstream request when the client left', 3000)
})
