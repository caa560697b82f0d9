// A real node:http server on 127.0.0.1:0 for mock upstreams: records every request, tracks
// open sockets (so tests can prove the gateway freed them), and tears down cleanly.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net, { type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: any
  /** Set when the client (the gateway) closed the connection before the response ended. */
  aborted: boolean
}

export type Handler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void | Promise<void>

export interface MockServer {
  origin: string
  requests: RecordedRequest[]
  /** Sockets currently open from the gateway to this mock. */
  openSockets(): number
  /** Resolves once every socket from the gateway has closed (or rejects after `ms`). */
  waitForNoSockets(ms?: number): Promise<void>
  /**
   * Resolves once every open socket is an idle keep-alive connection that has served a
   * complete response: no request running, no connection opened for nothing (or rejects after `ms`).
   */
  waitForOnlyKeepAlive(ms?: number): Promise<void>
  /** Requests whose response has neither finished nor been closed: still running upstream. */
  inFlight(): number
  /** Resolves once no request is running (idle keep-alive sockets may stay open), or rejects after `ms`. */
  waitForNoInFlight(ms?: number): Promise<void>
  close(): Promise<void>
}

export async function startMockServer(handler: Handler): Promise<MockServer> {
  const sockets = new Set<Socket>()
  const requests: RecordedRequest[] = []
  let inFlight = 0
  /** Per socket: requests running on it, and complete responses it has served. */
  const usage = new WeakMap<Socket, { busy: number; served: number }>()
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : undefined
    } catch { /* keep the raw text */ }
    const recorded: RecordedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body, aborted: false }
    requests.push(recorded)
    inFlight++
    const socketUsage = usage.get(req.socket)
    if (socketUsage) socketUsage.busy++
    res.on('close', () => {
      inFlight--
      if (socketUsage) socketUsage.busy--
      if (!res.writableFinished) recorded.aborted = true
      else if (socketUsage) socketUsage.served++
    })
    try {
      await handler(req, res, recorded)
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `mock failed: ${(err as Error).message}` } }))
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    usage.set(socket, { busy: 0, served: 0 })
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    openSockets: () => sockets.size,
    async waitForNoSockets(ms = 3000) {
      const deadline = Date.now() + ms
      while (sockets.size > 0) {
        if (Date.now() > deadline) throw new Error(`${sockets.size} upstream socket(s) still open after ${ms} ms`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    async waitForOnlyKeepAlive(ms = 3000) {
      const deadline = Date.now() + ms
      const unexpected = () => [...sockets].filter((s) => { const u = usage.get(s)!; return u.busy > 0 || u.served === 0 }).length
      while (unexpected() > 0) {
        if (Date.now() > deadline) throw new Error(`${unexpected()} upstream socket(s) busy or never used after ${ms} ms`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    inFlight: () => inFlight,
    async waitForNoInFlight(ms = 3000) {
      const deadline = Date.now() + ms
      while (inFlight > 0) {
        if (Date.now() > deadline) throw new Error(`${inFlight} upstream request(s) still running after ${ms} ms`)
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A TCP server that accepts connections and never says a word. Given as an https:// URL it
 * stalls the TLS handshake, which undici counts as connecting: the one reliable way to hit a
 * connect timeout on loopback (a plain TCP connect to 127.0.0.1 completes at once).
 */
export async function startSilentServer(): Promise<{ httpsUrl: string; connections: number; openSockets(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let connections = 0
  const server = net.createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.resume() // read and drop the ClientHello, so the peer's close is seen
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    httpsUrl: `https://127.0.0.1:${port}/v1`,
    get connections() { return connections },
    openSockets: () => sockets.size,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A loopback port nothing listens on right now (the kernel just handed it out). */
export async function freePort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A loopback URL where nothing listens: connecting is refused at once. */
export async function refusedUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`
}

/** Unref'd: a mock still sleeping through a scripted delay must not keep the test process alive. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref())

/** Write SSE frames one by one, yielding to the event loop so they leave as separate TCP writes. */
export async function writeFrames(res: ServerResponse, frames: string[], gapMs = 0): Promise<void> {
  for (const frame of frames) {
    if (res.destroyed) return
    res.write(frame)
    await sleep(gapMs)
  }
}
