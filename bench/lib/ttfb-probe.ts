// Loaded into a server under test with NODE_OPTIONS=--import (bench/ttfb.ts, never in production):
// where one request's time to first byte goes, read from the diagnostics channels Node, undici
// and Fastify publish — no mark in tiergate's own code, so the bare proxy, the core floor and
// tiergate are timed by the same points. For each POST, the times of:
//   arrival   Node's HTTP server has parsed the request head (http.server.request.start)
//   handler   Fastify calls the route handler (tracing:fastify.request.handler:start; Fastify servers only)
//   call      undici creates the upstream request (undici:request:create)
//   sent      undici has written its head to the socket (undici:client:sendHeaders)
//   answered  undici has parsed the upstream answer's head (undici:request:headers)
//   out       the first write (or end) of the response to the client
// Subscribing makes undici publish, a microsecond or two per request: the same for every server.
// On the message 'ttfb-probe:reset' it forgets what it has; on 'ttfb-probe:read' it sends back
// the median of each segment in µs and how many requests were timed.
import { subscribe } from 'node:diagnostics_channel'
import http from 'node:http'

const POINTS = ['arrival', 'handler', 'call', 'sent', 'answered', 'out'] as const
type Point = (typeof POINTS)[number]
type Times = Partial<Record<Point, number>>

/** A request at a time: the bench runs at concurrency 1, and points of another request are ignored. */
let current: Times | undefined
let segments = new Map<string, number[]>()
let timed = 0

const nowUs = () => performance.now() * 1000

const mark = (point: Point) => {
  if (current && current[point] === undefined) current[point] = nowUs()
}

subscribe('http.server.request.start', (message) => {
  if ((message as { request: http.IncomingMessage }).request.method === 'POST') current = { arrival: nowUs() }
})
subscribe('tracing:fastify.request.handler:start', () => mark('handler'))
subscribe('undici:request:create', () => mark('call'))
subscribe('undici:client:sendHeaders', () => mark('sent'))
subscribe('undici:request:headers', () => mark('answered'))

/** Each segment between consecutive points the request passed (a server without Fastify has no `handler`). */
function record(times: Times): void {
  const passed = POINTS.filter((point) => times[point] !== undefined)
  for (let i = 1; i < passed.length; i++) {
    const name = `${passed[i - 1]}>${passed[i]}`
    segments.set(name, [...(segments.get(name) ?? []), times[passed[i]]! - times[passed[i - 1]]!])
  }
  // Spans every server has, however many points it passed between them.
  const span = (from: Point, to: Point) => {
    if (times[from] === undefined || times[to] === undefined) return
    if (passed.indexOf(to) === passed.indexOf(from) + 1) return // recorded above, as a segment
    segments.set(`${from}>${to}`, [...(segments.get(`${from}>${to}`) ?? []), times[to]! - times[from]!])
  }
  span('arrival', 'call')
  span('arrival', 'out')
  timed++
}

function firstOut<F extends (...args: never[]) => unknown>(original: F): F {
  return function (this: http.ServerResponse, ...args: Parameters<F>) {
    const times = current
    // Only an answer that came from upstream is timed (a refusal, a cache hit or /health is not).
    if (times?.answered !== undefined && times.out === undefined) {
      times.out = nowUs()
      current = undefined
      record(times)
    }
    return original.apply(this, args)
  } as F
}
http.ServerResponse.prototype.write = firstOut(http.ServerResponse.prototype.write)
http.ServerResponse.prototype.end = firstOut(http.ServerResponse.prototype.end)

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

process.on('message', (message) => {
  if (message === 'ttfb-probe:reset') {
    segments = new Map()
    timed = 0
  } else if (message === 'ttfb-probe:read') {
    process.send?.({ probe: { timed, medians: Object.fromEntries([...segments].map(([name, values]) => [name, median(values)])) } })
  }
})
// Listening for messages holds the IPC channel open: it must not keep a stopped server alive.
process.channel?.unref()
