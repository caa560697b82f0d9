// A real node:http server on 127.0.0.1:0 for mock upstreams: records every request, tracks
// open sockets (so tests can prove the gateway freed them), and tears down cleanly.
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
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
  close(): Promise<void>
}

export async function startMockServer(handler: Handler): Promise<MockServer> {
  const sockets = new Set<Socket>()
  const requests: RecordedRequest[] = []
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
    res.on('close', () => {
      if (!res.writableFinished) recorded.aborted = true
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
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Write SSE frames one by one, yielding to the event loop so they leave as separate TCP writes. */
export async function writeFrames(res: ServerResponse, frames: string[], gapMs = 0): Promise<void> {
  for (const frame of frames) {
    if (res.destroyed) return
    res.write(frame)
    await sleep(gapMs)
  }
}
