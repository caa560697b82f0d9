// A client that stops reading holds the upstream back: the SSE body is written straight to the
// socket (dialects/sse-body.ts `sendSse`), so the gateway itself must stop pulling chunks when
// the response's buffer is full and pull again on `drain`, or a slow client would make it hold a
// whole answer in memory. Then the client reads on and gets every chunk, in order.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startMockServer, sleep } from '../mocks/server.ts'
import { startGateway } from '../helpers/gateway.ts'

const CHUNKS = 40_000
const TEXT = 'x'.repeat(1000)
const frame = (i: number) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: `${i}:${TEXT};` }, finish_reason: null }] })}\n\n`

t.test('a client that stops reading stops the upstream; reading on, it gets the whole answer', async (t) => {
  let written = 0
  const upstream = await startMockServer(async (req, res) => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', created: 0, owned_by: 'x' }] }))
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    // An upstream that honours backpressure itself, as Node's and every real server's does.
    for (let i = 0; i < CHUNKS; i++) {
      const data = frame(i)
      written += data.length
      if (!res.write(data)) await once(res, 'drain')
    }
    res.end(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`)
  })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'one', ONE_BASE_URL: `${upstream.origin}/v1`, RATE_LIMIT_MAX: '0' })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  const total = Array.from({ length: CHUNKS }, (_, i) => frame(i).length).reduce((a, b) => a + b, 0)

  const { port } = gw.app.server.address() as net.AddressInfo
  const socket = net.connect({ port, host: '127.0.0.1' })
  const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] })
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`)
  // Read the first bytes, then stop reading: the kernel's buffers fill, then the gateway's.
  await once(socket, 'readable')
  const received: Buffer[] = [socket.read() as Buffer]
  socket.pause()
  let stalled = -1
  for (let i = 0; i < 50; i++) {
    await sleep(100)
    if (written === stalled) break
    stalled = written
  }
  t.equal(written, stalled, 'the upstream stopped writing while the client read nothing')
  t.ok(written < total / 2, `the upstream wrote ${(written / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB while the client read nothing`)

  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.resume()
  await once(socket, 'end')
  const text = Buffer.concat(received).toString('utf8')
  const contents = [...text.matchAll(/"content":"(\d+):x+;"/g)].map((m) => Number(m[1]))
  t.equal(contents.length, CHUNKS, 'every chunk arrived')
  t.ok(contents.every((n, i) => n === i), 'in order')
  t.ok(text.includes('data: [DONE]'), 'and the clean end')
})
