// Issue 9 item 11: a client that sends headers announcing a large body and then nothing must
// not hold a connection (and a file descriptor) forever. A refusal before the body arrived
// (401, 413) is answered with `connection: close` and the socket is closed; a request that is
// not fully received within REQUEST_TIMEOUT_MS is closed (408); a healthy stream that lasts
// longer than REQUEST_TIMEOUT_MS is never cut (the timeout covers receiving the request only).
import t, { type Test } from 'tap'
import net from 'node:net'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { waitFor } from '../helpers/wait.ts'

const KEY = 'gw-connections-key-01'

interface RawClient {
  socket: net.Socket
  /** Everything received so far. */
  received(): string
  closed(): boolean
}

/** A raw TCP client: sends `head` (and `body`, if any) and keeps the socket open. */
async function rawRequest(gw: Gateway, head: string, body = ''): Promise<RawClient> {
  const { port } = gw.app.server.address() as net.AddressInfo
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let data = ''
  let closed = false
  socket.on('data', (d) => { data += d.toString('utf8') })
  socket.on('error', () => undefined)
  socket.on('close', () => { closed = true })
  socket.write(head + body)
  return { socket, received: () => data, closed: () => closed }
}

const head = (path: string, headers: Record<string, string>) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`

const openConnections = (gw: Gateway) => new Promise<number>((resolve, reject) => gw.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))))

t.test('401 and 413 on a body still arriving: answered, `connection: close`, socket closed', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm', GATEWAY_API_KEYS: KEY, BODY_LIMIT_BYTES: '2048' })
  t.teardown(async () => { await gw.close(); await mock.close() })

  const unauthenticated = await rawRequest(gw, head('/v1/chat/completions', { 'Content-Length': '1000000' }))
  await waitFor(() => unauthenticated.closed(), 'the server closes the 401 connection')
  t.match(unauthenticated.received(), /^HTTP\/1\.1 401 /)
  t.match(unauthenticated.received(), /\r\nconnection: close\r\n/i)

  const tooLarge = await rawRequest(gw, head('/v1/chat/completions', { 'Content-Length': '1000000', Authorization: `Bearer ${KEY}` }), '{"model":')
  await waitFor(() => tooLarge.closed(), 'the server closes the 413 connection')
  t.match(tooLarge.received(), /^HTTP\/1\.1 413 /)
  t.match(tooLarge.received(), /\r\nconnection: close\r\n/i)

  // A complete request refused with 401 keeps its keep-alive connection: nothing is still arriving.
  const complete = await rawRequest(gw, head('/v1/chat/completions', { 'Content-Length': '2' }), '{}')
  await waitFor(() => /\r\n\r\n[\s\S]*\}$/.test(complete.received()), 'the 401 answer')
  t.match(complete.received(), /^HTTP\/1\.1 401 /)
  t.notMatch(complete.received(), /connection: close/i)
  t.notOk(complete.closed(), 'a complete request keeps its connection')
  complete.socket.destroy()
})

t.test('fd exhaustion, cheaply: 300 connections announcing a body and sending nothing no longer pile up', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  // AUTH_FAILURE_LIMIT off: every one of them is a 401 (with the limit most would be 429s, closed the same way).
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm', GATEWAY_API_KEYS: KEY, AUTH_FAILURE_LIMIT: '0' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  const clients: RawClient[] = []
  for (let i = 0; i < 300; i++) clients.push(await rawRequest(gw, head('/v1/chat/completions', { 'Content-Length': '50000000' })))
  t.teardown(() => { for (const c of clients) c.socket.destroy() })
  await waitFor(() => clients.every((c) => c.closed()), 'every refused connection closed by the server', 15_000)
  t.ok(clients.every((c) => /^HTTP\/1\.1 401 /.test(c.received())), 'each got its 401')
  await waitFor(async () => (await openConnections(gw)) === 0, 'no connection left open on the gateway', 5_000)
  // The gateway still serves.
  const ok = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })
  t.equal(ok.status, 200)
})

/** 10 pieces, 220 ms apart: a stream of over 2 s. */
async function longStream(t: Test, gw: Gateway, mock: OpenAIMock, limits: string) {
  mock.script({ content: 'one two three four five six seven eight nine ten', pieces: 10, gapMs: 220 })
  const started = Date.now()
  const stream = await gw.client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'count' }] })
  let text = ''
  let finish: string | null = null
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? ''
    finish = chunk.choices[0]?.finish_reason ?? finish
  }
  const lasted = Date.now() - started
  t.equal(text, 'one two three four five six seven eight nine ten', `${limits}: the whole answer`)
  t.equal(finish, 'stop')
  t.comment(`stream lasted ${lasted} ms with ${limits}`)
  if (lasted < 1000) t.fail(`the stream must outlast the timeout for this test to mean anything (${lasted} ms)`)
}

t.test('REQUEST_TIMEOUT_MS: an idle half-sent request is closed with 408; a 2 s stream survives a 1 s request timeout', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm', GATEWAY_API_KEYS: KEY, REQUEST_TIMEOUT_MS: '1000' }, { apiKey: KEY })
  t.teardown(async () => { await gw.close(); await mock.close() })

  // Authenticated, half the body, then nothing.
  const half = await rawRequest(gw, head('/v1/chat/completions', { 'Content-Length': '100', Authorization: `Bearer ${KEY}` }), '{"model":"m",')
  await waitFor(() => half.closed(), 'the half-sent request is closed by the request timeout', 10_000)
  t.match(half.received(), /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout')

  // Headers that never end.
  const silent = await rawRequest(gw, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n')
  await waitFor(() => silent.closed(), 'a request whose headers never end is closed too', 10_000)

  await longStream(t, gw, mock, 'REQUEST_TIMEOUT_MS=1000')
})

t.test('CONNECTION_TIMEOUT_MS is inactivity: a 2 s stream with chunks every 220 ms survives a 1 s limit', async (t) => {
  const mock = await startOpenAIMock({ models: ['m'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm', CONNECTION_TIMEOUT_MS: '1000' })
  t.teardown(async () => { await gw.close(); await mock.close() })
  await longStream(t, gw, mock, 'CONNECTION_TIMEOUT_MS=1000')
  // An idle connection is closed once the limit passes.
  const idle = await rawRequest(gw, '')
  await waitFor(() => idle.closed(), 'an idle connection is closed after CONNECTION_TIMEOUT_MS', 10_000)
})

t.test('httpServerOptions: Node checks often enough for the limit, headers never outlast the request', async (t) => {
  const { httpServerOptions } = await import('../../server.ts')
  t.same(httpServerOptions(0), { requestTimeout: 0 })
  t.same(httpServerOptions(1000), { requestTimeout: 1000, headersTimeout: 1000, connectionsCheckingInterval: 250 })
  t.same(httpServerOptions(60_000), { requestTimeout: 60_000, headersTimeout: 60_000, connectionsCheckingInterval: 15_000 })
  t.same(httpServerOptions(600_000), { requestTimeout: 600_000, headersTimeout: 60_000, connectionsCheckingInterval: 30_000 })
})
