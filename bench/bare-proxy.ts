// The reference: a bare pass-through proxy on undici (one Pool, keep-alive) with no routing,
// validation, fallback or logging — the floor any gateway's overhead is measured against.
import http from 'node:http'
import { Pool } from 'undici'
import type { AddressInfo } from 'node:net'

const upstream = new Pool(process.env.UPSTREAM_ORIGIN!, { connections: 2_048, keepAliveTimeout: 60_000 })
/** Benchmarks of slow upstreams put their script in a path prefix (bench/upstream.ts). */
const prefix = process.env.UPSTREAM_PATH_PREFIX ?? ''
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', async () => {
    try {
      const answer = await upstream.request({ path: prefix + req.url!, method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) })
      res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type']) })
      for await (const chunk of answer.body) res.write(chunk)
      res.end()
    } catch {
      res.writeHead(502).end()
    }
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }))
// Exit normally on SIGINT, so that `--cpu-prof` writes its profile (bench/README.md).
process.on('SIGINT', () => process.exit(0))
