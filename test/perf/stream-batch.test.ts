// The batch-shaped stream path (issue 14): the events of one upstream network read travel as
// one batch from the adapter to the SSE body. Behaviours a client or an operator can see:
// - a read of plain, untouched events reaches the client in ONE chunk of the HTTP body, byte
//   for byte what the upstream sent (its bytes are forwarded, not rebuilt);
// - an event that must be rewritten (a `reasoning` field, a tool call without an index) still
//   is, in the middle of such a read; an error event in it still fails the stream;
// - a wrapper that only knows `next()` (a session's recorder) still gets every chunk, in order;
// - a client that leaves mid-stream frees the upstream request at once, with or without one.
import t, { type Test } from 'tap'
import net from 'node:net'
import { startMockServer, type MockServer } from '../mocks/server.ts'
import { streamFrames } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { chunkedFramesOf } from '../helpers/chunked.ts'

const MODEL = 'm'
const models = JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', created: 0, owned_by: 'x' }] })

/** An upstream that answers every stream with `body` in one write (and `hold`: keeps the response open after it). */
async function upstreamOf(body: string, options: { hold?: boolean } = {}): Promise<MockServer & { closed: Promise<void> }> {
  let closedNow!: () => void
  const closed = new Promise<void>((resolve) => (closedNow = resolve))
  const server = await startMockServer(async (req, res) => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(models)
    }
    res.on('close', closedNow)
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    if (options.hold) res.write(body)
    else res.end(body)
  })
  return Object.assign(server, { closed })
}

/** A raw HTTP/1.1 streaming request; the body's chunked-encoding chunks, as the gateway sent them. */
async function chunkedBody(t: Test, port: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'x' }], ...extra })
  const socket = net.connect(port, '127.0.0.1')
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  const received: Buffer[] = []
  for await (const data of socket) received.push(data as Buffer)
  const response = Buffer.concat(received).toString('utf8')
  t.match(response, /^HTTP\/1\.1 200 /, 'a 200 stream')
  return chunkedFramesOf(response)
}

const dataOf = (text: string) => text.split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))

async function gatewayOn(upstream: MockServer, env: Record<string, string> = {}) {
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'one', ONE_BASE_URL: `${upstream.origin}/v1`, ...env })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  return { gw, port: (gw.app.server.address() as net.AddressInfo).port }
}

t.test('a read of 20 untouched events reaches the client in one HTTP chunk, byte for byte', async (t) => {
  const events = streamFrames(MODEL, { content: 'ab'.repeat(17), pieces: 17 }, false)
  t.equal(events.length, 20, 'the upstream sends 20 events (with [DONE]) in one write')
  const { port } = await gatewayOn(await upstreamOf(events.join('')))
  const chunks = await chunkedBody(t, port)
  t.equal(chunks.length, 1, 'one chunk of the HTTP body')
  t.equal(chunks.join(''), events.join(''), 'exactly the upstream bytes')
})

// Every deployment with a paid provider has a key, and answers are scrubbed of it (plugins/secret-guard.ts).
const KEY = 'sk-one-0123456789abcdefghij'

// (Which path the bytes took — forwarded or rewritten to the same text — is told apart in stream-raw-frames.test.ts.)
t.test('with a provider key configured (answers scrubbed of it), a read of 20 untouched events still reaches the client in one HTTP chunk, byte for byte', async (t) => {
  const events = streamFrames(MODEL, { content: 'sk sk- is this '.repeat(2), pieces: 17 }, false)
  const { port } = await gatewayOn(await upstreamOf(events.join('')), { ONE_API_KEY: KEY })
  const chunks = await chunkedBody(t, port)
  t.equal(chunks.length, 1, 'one chunk of the HTTP body')
  t.equal(chunks.join(''), events.join(''), 'exactly the upstream bytes')
})

t.test('with a provider key configured, the key echoed across two events of one read is masked; the other events come as they came', async (t) => {
  const events = streamFrames(MODEL, { content: `before ${KEY} after`, pieces: 12 }, false)
  const { port } = await gatewayOn(await upstreamOf(events.join('')), { ONE_API_KEY: KEY })
  const text = (await chunkedBody(t, port)).join('')
  t.notOk(text.includes(KEY) || text.includes(KEY.slice(4)), 'no part of the key past its first characters reaches the client')
  const content = dataOf(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('')
  // At most the key's first MIN_HELD_TAIL_CHARS − 1 characters leave, when an event ends with them (plugins/scrub-content.ts).
  t.match(content, /^before (s|sk|sk-)?\[REDACTED\] after$/, 'the key masked, the text around it unchanged')
  t.equal(dataOf(text).at(-1), '[DONE]', 'a clean end')
})

t.test('an event that must be rewritten is, in the middle of one read; the rest of the read is unchanged', async (t) => {
  const events = streamFrames(MODEL, { content: 'hello world', pieces: 4 }, false)
  const reasoning = events[1].replace('"delta":{"content"', '"delta":{"reasoning":"thinking","content"')
  const upstreamEvents = [events[0], reasoning, ...events.slice(2)]
  const { port } = await gatewayOn(await upstreamOf(upstreamEvents.join('')))
  const data = dataOf((await chunkedBody(t, port)).join(''))
  t.equal(data.length, upstreamEvents.length, 'every event and [DONE]')
  const rewritten = JSON.parse(data[1])
  t.equal(rewritten.choices[0].delta.reasoning_content, 'thinking', 'reasoning surfaced as reasoning_content')
  t.notOk('reasoning' in rewritten.choices[0].delta, 'the upstream name is gone')
  t.same(data.filter((_, i) => i !== 1), dataOf(upstreamEvents.join('')).filter((_, i) => i !== 1), 'the other events as they came')
})

t.test('an error event inside a read ends the stream with an error event and no [DONE], after the chunks before it', async (t) => {
  const events = streamFrames(MODEL, { content: 'hello world again', pieces: 6 }, false)
  const error = `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`
  const { port } = await gatewayOn(await upstreamOf([...events.slice(0, 4), error, ...events.slice(4)].join('')))
  const data = dataOf((await chunkedBody(t, port)).join(''))
  t.same(data.slice(0, 4), dataOf(events.slice(0, 4).join('')), 'the chunks before the error event, as they came')
  t.match(JSON.parse(data.at(-1)!), { error: { code: 'upstream_stream_failed' } }, 'the error event last')
  t.notOk(data.includes('[DONE]'), 'no clean end')
})

t.test('a wrapper that reads chunk by chunk (a session recorder) gets every chunk, in order', async (t) => {
  const events = streamFrames(MODEL, { content: 'one two three four five', pieces: 9 }, true)
  const { port } = await gatewayOn(await upstreamOf(events.join('')))
  const text = (await chunkedBody(t, port, { session_id: 'batch-test' })).join('')
  t.same(dataOf(text), dataOf(events.join('')), 'the same events, in order')
})

for (const chain of ['plain', 'with a session recorder'] as const) {
  t.test(`a client that leaves mid-stream frees the upstream request at once (${chain})`, async (t) => {
    const events = streamFrames(MODEL, { content: 'a b c d e f g h', pieces: 8 }, false)
    // Half the answer in one read, then the upstream keeps the response open.
    const upstream = await upstreamOf(events.slice(0, 6).join(''), { hold: true })
    const { port } = await gatewayOn(upstream)
    const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'x' }], ...(chain === 'plain' ? {} : { session_id: 'leave-test' }) })
    const socket = net.connect(port, '127.0.0.1')
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    let seen = ''
    for await (const data of socket) {
      seen += (data as Buffer).toString('utf8')
      if (seen.includes('"content":"b')) break // the for-await's exit destroys the socket: the client left
    }
    t.ok(seen.includes('"content":"a'), 'the client had the first chunks')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still open after 2 s'), 2_000)))
    t.equal(await Promise.race([upstream.closed.then(() => 'closed'), late]), 'closed', 'the upstream response was closed')
    clearTimeout(timer)
    t.equal(upstream.inFlight(), 0, 'no upstream request left running')
  })
}

t.test('a stream whose [DONE] and end came in one read leaves its upstream connection pooled for the next request', async (t) => {
  const events = streamFrames(MODEL, { content: 'hello again', pieces: 3 }, false)
  const upstream = await upstreamOf(events.join(''))
  const { port } = await gatewayOn(upstream)
  for (let i = 0; i < 3; i++) {
    const data = dataOf((await chunkedBody(t, port)).join(''))
    t.equal(data.at(-1), '[DONE]', `stream ${i + 1} complete`)
  }
  t.equal(upstream.openSockets(), 1, 'one upstream connection served all three streams')
})
