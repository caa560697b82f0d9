// The two upstreams of `npm run bench:fallback`, in their own process: real HTTP servers on
// 127.0.0.1 speaking OpenAI SSE. Tier 1 fails 30 % of its requests, in four ways in turn:
// an HTTP status (500/503), a reset before the headers, a hang (the gateway's first-byte limit
// must abandon it), and SSE headers then a cut before the first chunk. Tier 2 always answers.
// The parent asks for stats over IPC: requests and faults per kind, requests still running,
// and open sockets split into busy / never used / idle keep-alive.
import http from 'node:http'
import type { Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

const CHUNKS = Number(process.env.BENCH_STREAM_CHUNKS ?? 10)
const GAP_MS = Number(process.env.BENCH_STREAM_GAP_MS ?? 20)
const created = 1726012687
const frame = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'bench-model', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`

export type FaultKind = 'status' | 'reset' | 'hang' | 'cut-before-first-chunk'
const KINDS: FaultKind[] = ['status', 'reset', 'hang', 'cut-before-first-chunk']

/** Exactly 3 requests in 10 fail, the kinds taking turns. */
function faultFor(n: number): FaultKind | undefined {
  if (n % 10 >= 3) return undefined
  return KINDS[(Math.floor(n / 10) * 3 + (n % 10)) % KINDS.length]
}

function startUpstream(name: string, faulty: boolean) {
  const sockets = new Map<Socket, { busy: number; served: number }>()
  const stats = { requests: 0, answered: 0, inFlight: 0, faults: { status: 0, reset: 0, hang: 0, 'cut-before-first-chunk': 0 } as Record<FaultKind, number> }
  let n = 0
  const server = http.createServer((req, res) => {
    const socketUse = sockets.get(req.socket)!
    socketUse.busy++
    stats.requests++
    stats.inFlight++
    res.on('close', () => {
      stats.inFlight--
      socketUse.busy--
      if (res.writableFinished) socketUse.served++
    })
    req.resume()
    req.on('end', async () => {
      const fault = faulty ? faultFor(n++) : undefined
      if (fault) stats.faults[fault]++
      switch (fault) {
        case 'status': {
          const status = stats.faults.status % 2 ? 500 : 503
          res.writeHead(status, { 'content-type': 'application/json' })
          return void res.end(JSON.stringify({ error: { message: `upstream ${status}`, type: 'server_error', param: null, code: null } }))
        }
        case 'reset':
          return void req.socket.destroy()
        case 'hang':
          return // the gateway must give up on it
        case 'cut-before-first-chunk':
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          res.flushHeaders()
          setTimeout(() => req.socket.destroy(), 5)
          return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      res.write(frame({ role: 'assistant', content: '' }))
      for (let i = 0; i < CHUNKS - 2 && !res.destroyed; i++) {
        await new Promise((r) => setTimeout(r, GAP_MS))
        res.write(frame({ content: `${name}${i} ` }))
      }
      res.write(frame({}, 'stop'))
      res.end('data: [DONE]\n\n')
      stats.answered++
    })
  })
  server.on('connection', (socket) => {
    sockets.set(socket, { busy: 0, served: 0 })
    socket.on('close', () => sockets.delete(socket))
  })
  server.keepAliveTimeout = 5_000
  return new Promise<{ port: number; snapshot: () => object }>((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: (server.address() as AddressInfo).port,
    snapshot: () => {
      const all = [...sockets.values()]
      return {
        ...stats,
        faults: { ...stats.faults },
        sockets: {
          open: all.length,
          busy: all.filter((s) => s.busy > 0).length,
          neverUsed: all.filter((s) => s.busy === 0 && s.served === 0).length,
          idleKeepAlive: all.filter((s) => s.busy === 0 && s.served > 0).length,
        },
      }
    },
  })))
}

const tier1 = await startUpstream('one', true)
const tier2 = await startUpstream('two', false)
process.on('message', (message) => {
  if (message === 'stats') process.send!({ stats: { tier1: tier1.snapshot(), tier2: tier2.snapshot() } })
})
process.send!({ ports: { tier1: tier1.port, tier2: tier2.port } })
