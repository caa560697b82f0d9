// Frames that arrive together leave together: an upstream that sends 20 SSE events in one
// TCP write must reach the client in a handful of HTTP chunks, not 20 (each write costs a
// syscall and a chunked-encoding frame; the stream benchmark lost half its throughput to it).
import t from 'tap'
import net from 'node:net'
import { startMockServer } from '../mocks/server.ts'
import { streamFrames } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'
import { chunkedFramesOf } from '../helpers/chunked.ts'

/** Sends a raw HTTP/1.1 request and returns the body's chunked-encoding frames, as sent. */
async function chunkedFrames(port: number, body: string): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1')
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  const chunks: Buffer[] = []
  for await (const chunk of socket) chunks.push(chunk as Buffer)
  return chunkedFramesOf(Buffer.concat(chunks).toString('utf8'))
}

t.test('20 events in one upstream write reach the client in at most 3 HTTP chunks', async (t) => {
  const events = streamFrames('m', { content: 'ab'.repeat(17), pieces: 17 }, false)
  t.equal(events.length, 20, 'the upstream sends 20 events')
  const upstream = await startMockServer(async (req, res) => {
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', created: 0, owned_by: 'x' }] }))
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.end(events.join('')) // one write
  })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'one', ONE_BASE_URL: `${upstream.origin}/v1` })
  t.teardown(async () => { await gw.close(); await upstream.close() })
  const { port } = gw.app.server.address() as net.AddressInfo
  const frames = await chunkedFrames(port, JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }))
  const body = frames.join('')
  t.equal(body.split('\n\n').filter((f) => f.startsWith('data: ')).length, 20, 'all 19 chunks and [DONE] arrived')
  t.ok(body.endsWith('data: [DONE]\n\n'))
  t.ok(frames.length <= 3, `${frames.length} HTTP chunks for 20 events`)
})
