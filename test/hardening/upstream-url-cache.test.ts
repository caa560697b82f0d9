// The transport parses each upstream URL text once and keeps it (providers/http/transport.ts,
// a bounded map per transport, cleared when full). What must hold whatever the cache does: every
// request goes to its own URL's path and query — URLs that share an origin, differ only in their
// query, or arrive after the cache was cleared — and a URL that cannot be parsed is an error for
// that request only. That the cache stays bounded is not visible from outside and is not claimed here.
import t from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { UpstreamHttp } from '../../providers/http/index.ts'

const ctx = () => ({ signal: new AbortController().signal, timeouts: { connectMs: 2_000, firstByteMs: 5_000, idleMs: 5_000, totalMs: 5_000 } })

/** An upstream that answers every request with the path and query it was sent to. */
async function echoUpstream() {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

t.test('each URL text reaches its own path and query, before and after the cache is cleared', async (t) => {
  const upstream = await echoUpstream()
  const http = new UpstreamHttp()
  t.teardown(async () => { await http.close(); await upstream.close() })
  const pathOf = async (url: string) => (await http.json<{ path: string }>({ url }, ctx())).path

  t.equal(await pathOf(`${upstream.origin}/v1/models`), '/v1/models')
  t.equal(await pathOf(`${upstream.origin}/v1/models?page=2`), '/v1/models?page=2', 'same path, another query: its own entry')
  t.equal(await pathOf(`${upstream.origin}/v1/models`), '/v1/models', 'the first URL again: not the one parsed last')
  t.equal(await pathOf(`${upstream.origin}/v1/a%20b`), '/v1/a%20b', 'an escape kept as sent')

  // More distinct URLs than the cache keeps (1,024): it is cleared and refilled on the way.
  const wrong: string[] = []
  for (let i = 0; i < 1_100; i++) {
    const path = `/v1/chat/completions?n=${i}`
    const got = await pathOf(`${upstream.origin}${path}`)
    if (got !== path) wrong.push(`${path} → ${got}`)
  }
  t.same(wrong, [], 'every one of 1,100 distinct URLs reached its own path')
  t.equal(await pathOf(`${upstream.origin}/v1/models?page=2`), '/v1/models?page=2', 'a URL cached before the clear, parsed again')
})

t.test('URLs of two origins on one transport each reach their own server', async (t) => {
  const one = await echoUpstream()
  const two = await echoUpstream()
  const http = new UpstreamHttp()
  t.teardown(async () => { await http.close(); await one.close(); await two.close() })
  t.equal((await http.json<{ path: string }>({ url: `${one.origin}/one` }, ctx())).path, '/one')
  t.equal((await http.json<{ path: string }>({ url: `${two.origin}/two` }, ctx())).path, '/two')
  t.equal((await http.json<{ path: string }>({ url: `${one.origin}/one` }, ctx())).path, '/one')
})

t.test('a URL that cannot be parsed fails that request and leaves the transport serving', async (t) => {
  const upstream = await echoUpstream()
  const http = new UpstreamHttp()
  t.teardown(async () => { await http.close(); await upstream.close() })
  await t.rejects(http.json({ url: 'not a url' }, ctx()), TypeError)
  t.equal((await http.json<{ path: string }>({ url: `${upstream.origin}/after` }, ctx())).path, '/after')
})

t.test('closing one transport leaves another on the same upstream serving the same URL', async (t) => {
  const upstream = await echoUpstream()
  const first = new UpstreamHttp()
  const second = new UpstreamHttp()
  t.teardown(async () => { await second.close(); await upstream.close() })
  const url = `${upstream.origin}/shared`
  t.equal((await first.json<{ path: string }>({ url }, ctx())).path, '/shared')
  t.equal((await second.json<{ path: string }>({ url }, ctx())).path, '/shared')
  await first.close()
  t.equal((await second.json<{ path: string }>({ url }, ctx())).path, '/shared', 'the other transport still serves the URL')
})
