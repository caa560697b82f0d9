// Hostile upstreams (issue 9 items 6–8): an endless newline-free SSE stream, a huge JSON body,
// a huge NDJSON line. Each pumps a fixed buffer with backpressure (the mock itself stays
// small) and records how much it got out before the gateway closed the socket.
import type { ServerResponse } from 'node:http'
import { startMockServer, type MockServer } from './server.ts'

export interface Pumped {
  /** Bytes the mock wrote before it stopped. */
  written: number
  /** The gateway closed the connection before the mock had written everything. */
  closedEarly: boolean
}

const PIECE = Buffer.alloc(256 * 1024, 'a')

/** Write `prefix`, then `total` bytes of `piece` repeated ('a' by default), then `suffix`; stops when the peer closes. */
export async function pump(res: ServerResponse, total: number, prefix = '', suffix = '', piece = PIECE): Promise<Pumped> {
  let written = 0
  let closed = false
  res.on('close', () => { closed = true })
  const write = (chunk: Buffer | string) => new Promise<void>((resolve) => {
    if (closed || res.destroyed) return resolve()
    const ok = res.write(chunk)
    written += Buffer.byteLength(chunk)
    if (ok) return resolve()
    const done = () => { res.off('drain', done); res.off('close', done); resolve() }
    res.once('drain', done)
    res.once('close', done)
  })
  if (prefix) await write(prefix)
  while (written < total && !closed) await write(written + piece.length <= total ? piece : piece.subarray(0, total - written))
  if (!closed) {
    if (suffix) await write(suffix)
    res.end()
  }
  return { written, closedEarly: closed && written < total }
}

export interface HostileMock extends MockServer {
  baseUrl: string
  /** What each pump achieved, in request order. */
  pumped: Pumped[]
}

export type HostileBody =
  | { kind: 'sse-no-newline'; bytes: number }
  | { kind: 'json-huge'; bytes: number; declareLength?: boolean }
  | { kind: 'ndjson-no-newline'; bytes: number }
  /** Well-formed events (or NDJSON lines), each under every per-event cap, that never end: only a cap on the whole stream stops them. */
  | { kind: 'sse-endless'; bytes: number }
  | { kind: 'ndjson-endless'; bytes: number }

/** `total` bytes of whole events: `event` repeated, a write holding whole events only. */
function pumpEvents(res: ServerResponse, total: number, event: string): Promise<Pumped> {
  return pump(res, total, '', '', Buffer.from(event.repeat(Math.max(1, Math.floor(PIECE.length / event.length)))))
}

/** A chat endpoint that answers every request with `body`; `/models` lists `m`. */
export async function startHostileMock(body: HostileBody): Promise<HostileMock> {
  const pumped: Pumped[] = []
  const server = await startMockServer(async (req, res) => {
    if (req.url?.endsWith('/models') || req.url === '/api/tags' || req.url === '/api/version') {
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }], models: [{ name: 'm', model: 'm' }], version: '0.12.0' }))
    }
    if (body.kind === 'sse-no-newline') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      pumped.push(await pump(res, body.bytes, 'data: {"choices":[{"index":0,"delta":{"content":"'))
    } else if (body.kind === 'json-huge') {
      const prefix = '{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"'
      const suffix = '"},"finish_reason":"stop"}]}'
      const headers: Record<string, string | number> = { 'content-type': 'application/json' }
      if (body.declareLength) headers['content-length'] = prefix.length + body.bytes + suffix.length
      res.writeHead(200, headers)
      pumped.push(await pump(res, body.bytes, prefix, suffix))
    } else if (body.kind === 'sse-endless') {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const chunk = { id: 'chatcmpl-endless', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'a'.repeat(1000) }, finish_reason: null }] }
      pumped.push(await pumpEvents(res, body.bytes, `data: ${JSON.stringify(chunk)}\n\n`))
    } else if (body.kind === 'ndjson-endless') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      pumped.push(await pumpEvents(res, body.bytes, `${JSON.stringify({ model: 'm', created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: 'a'.repeat(1000) }, done: false })}\n`))
    } else {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      pumped.push(await pump(res, body.bytes, '{"model":"m","message":{"role":"assistant","content":"'))
    }
  })
  return Object.assign(server, { baseUrl: `${server.origin}/v1`, pumped })
}
