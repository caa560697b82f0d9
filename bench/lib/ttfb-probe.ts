// Loaded into a server under test with NODE_OPTIONS=--import (bench/ttfb.ts, never in production):
// where one request's time to first byte goes, read from the diagnostics channels Node, undici
// and Fastify publish — no mark in tiergate's own code, so the bare proxy, the core floor and
// tiergate are timed by the same points. For each POST, the times of:
//   arrival   Node's HTTP server has parsed the request head (http.server.request.start)
//   handler   Fastify calls the route handler (tracing:fastify.request.handler:start; Fastify servers only)
//   call      undici creates the upstream request (undici:request:create)
//   sent      undici has written its head to the socket (undici:client:sendHeaders)
//   idle      after that, the event loop first reaches its check phase (a setImmediate from
//             `sent`): the server's own work after the call is written is done by then, unless
//             the answer arrived first and was read in the poll phase before it
//   answered  undici has parsed the upstream answer's head (undici:request:headers)
//   out       the first write (or end) of the response to the client
// Subscribing makes undici publish, a microsecond or two per request: the same for every server.
// Each request's times are kept as they are; the medians are worked out only when asked, so the
// measured server does no more than take a clock reading at each point.
// Messages: 'ttfb-probe:reset' forgets what it has; 'ttfb-probe:read' sends back how many
// requests were timed and, for every two points a request passed (`arrival>call`, …), the median
// µs between them. Each is answered with `{ probe: … }`, so the bench knows it took effect.
import { subscribe } from 'node:diagnostics_channel'
import http from 'node:http'

const POINTS = ['arrival', 'handler', 'call', 'sent', 'idle', 'answered', 'out'] as const
type Point = (typeof POINTS)[number]
type Times = Partial<Record<Point, number>>

/** A request at a time: the bench runs at concurrency 1, and points of another request are ignored. */
let current: Times | undefined
let timed: Times[] = []

const nowUs = () => performance.now() * 1000

const mark = (point: Point) => {
  if (current && current[point] === undefined) current[point] = nowUs()
}

subscribe('http.server.request.start', (message) => {
  if ((message as { request: http.IncomingMessage }).request.method === 'POST') current = { arrival: nowUs() }
})
subscribe('tracing:fastify.request.handler:start', () => mark('handler'))
subscribe('undici:request:create', () => mark('call'))
subscribe('undici:client:sendHeaders', () => {
  if (!current || current.sent !== undefined) return
  current.sent = nowUs()
  const times = current
  setImmediate(() => {
    times.idle = nowUs()
  })
})
subscribe('undici:request:headers', () => mark('answered'))

function firstOut<F extends (...args: never[]) => unknown>(original: F): F {
  return function (this: http.ServerResponse, ...args: Parameters<F>) {
    // Only an answer that came from upstream is timed (a refusal, a cache hit or /health is not).
    if (current?.answered !== undefined) {
      current.out = nowUs()
      timed.push(current)
      current = undefined
    }
    return original.apply(this, args)
  } as F
}
http.ServerResponse.prototype.write = firstOut(http.ServerResponse.prototype.write)
http.ServerResponse.prototype.end = firstOut(http.ServerResponse.prototype.end)

/** Its own one-line median: importing bench/lib/procs.ts would load child_process and more into the server measured. */
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** For every two points, in order, the median µs between them over the requests that passed both. */
function medians(): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < POINTS.length; i++) {
    for (let j = i + 1; j < POINTS.length; j++) {
      const [from, to] = [POINTS[i], POINTS[j]]
      const spans = timed.filter((t) => t[from] !== undefined && t[to] !== undefined).map((t) => t[to]! - t[from]!)
      if (spans.length > 0) out[`${from}>${to}`] = median(spans)
    }
  }
  return out
}

process.on('message', (message) => {
  if (message === 'ttfb-probe:reset') {
    timed = []
    process.send?.({ probe: { timed: 0, medians: {} } })
  } else if (message === 'ttfb-probe:read') {
    process.send?.({ probe: { timed: timed.length, medians: medians() } })
  }
})
// Listening for messages holds the IPC channel open: it must not keep a stopped server alive.
process.channel?.unref()
