// node bench/ttfb.ts [requests] — where the time to first byte at concurrency 1 goes, for the
// bare proxy, the core floor and tiergate on one mock upstream, JSON and stream: the client's
// TTFB (as `npm run bench` takes it), the server's CPU µs per request at c=1, and the request's
// path split at the points Node, undici and Fastify publish (bench/lib/ttfb-probe.ts, loaded
// into each server): before the upstream call (Fastify's part up to the route handler, and the
// rest), writing the call, the upstream's turnaround, and from the upstream's answer to the
// first byte out. Servers alternate over BENCH_ROUNDS (3) rounds of `requests` (1500) each; a
// cell is the median of the rounds' medians. Never part of `npm test`.
import { once } from 'node:events'
import { PLAIN_ENV } from './lib/features.ts'
import { cpuMicros, median, startChild, startGateway, stop, type Server } from './lib/procs.ts'
import { ttfbMs } from './lib/ttfb.ts'

const REQUESTS = Number(process.argv[2] ?? 1500)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const WARM_UP = 300
/** The probe, on top of whatever NODE_OPTIONS the shell already has. */
const probe = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${new URL('./lib/ttfb-probe.ts', import.meta.url).pathname}`.trim() }
const chatBody = (stream: boolean) => JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })

interface ProbeReading { timed: number; medians: Record<string, number> }

/** A message to the server's probe, and its answer (a reset is answered too, so no request is timed before it takes effect). */
async function askProbe(server: Server, message: 'ttfb-probe:reset' | 'ttfb-probe:read'): Promise<ProbeReading> {
  const answer = (async () => {
    for (;;) {
      const [reply] = (await once(server.child, 'message')) as [{ probe?: ProbeReading }]
      if (reply.probe) return reply.probe
    }
  })()
  server.child.send(message)
  return answer
}

/** The rows printed: a key of `round`'s reading (two probe points, or a client figure) and its label. */
const ROWS: Array<[string, string]> = [
  ['ttfbUs', 'client TTFB'],
  ['cpuUsPerRequest', 'server CPU per request'],
  ['arrival>handler', 'arrival → route handler (Fastify)'],
  ['handler>call', 'route handler → upstream call'],
  ['arrival>call', 'arrival → upstream call'],
  ['call>sent', 'upstream call → its head written'],
  ['sent>idle', 'head written → server idle (its own work after the call)'],
  ['sent>answered', "head written → upstream's answer head"],
  ['answered>out', "upstream's answer head → first byte out"],
  ['arrival>out', 'arrival → first byte out'],
]

/** One server, one mode: the client's TTFB, CPU per request and the probe's segments over `REQUESTS` sequential requests. */
async function round(server: Server, stream: boolean) {
  const origin = `http://127.0.0.1:${server.port}`
  await ttfbMs(origin, '/v1/chat/completions', chatBody(stream), WARM_UP)
  await askProbe(server, 'ttfb-probe:reset')
  const cpuBefore = cpuMicros(server.pid)
  const ttfb = await ttfbMs(origin, '/v1/chat/completions', chatBody(stream), REQUESTS)
  const cpuUsPerRequest = (cpuMicros(server.pid) - cpuBefore) / REQUESTS
  const probed = await askProbe(server, 'ttfb-probe:read')
  if (probed.timed !== REQUESTS) throw new Error(`the probe timed ${probed.timed} of ${REQUESTS} requests`)
  return { ttfbUs: ttfb * 1000, cpuUsPerRequest, ...probed.medians }
}

const upstream = await startChild('upstream.ts')
const origin = `http://127.0.0.1:${upstream.port}`
const servers: Array<[string, Server]> = []
try {
  servers.push(['bare', await startChild('bare-proxy.ts', { UPSTREAM_ORIGIN: origin, ...probe })])
  servers.push(['core floor', await startGateway({ ...PLAIN_ENV(origin), RATE_LIMIT_MAX: '1000000000', ...probe }, undefined, 'bench/core-floor.ts')])
  servers.push(['tiergate', await startGateway({ ...PLAIN_ENV(origin), RATE_LIMIT_MAX: '1000000000', ...probe })])
  for (const stream of [false, true]) {
    const rounds = new Map<string, Array<Record<string, number>>>(servers.map(([name]) => [name, []]))
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, server] of servers) rounds.get(name)!.push(await round(server, stream))
    }
    const cell = (name: string, key: string) => {
      const values = rounds.get(name)!.map((reading) => reading[key]).filter((v) => v !== undefined)
      return values.length === 0 ? undefined : median(values)
    }
    console.log(`\n${stream ? 'stream (20 chunks)' : 'non-stream'}, c=1, ${ROUNDS} alternating rounds of ${REQUESTS} requests; µs, median of the rounds' medians`)
    console.log(`| segment | ${servers.map(([name]) => name).join(' | ')} | tiergate − bare |`)
    console.log(`|---|${servers.map(() => '---:|').join('')}---:|`)
    for (const [key, label] of ROWS) {
      const cells = servers.map(([name]) => cell(name, key))
      if (cells.every((v) => v === undefined)) continue
      const bare = cells[0]
      const tiergate = cells[cells.length - 1]
      const delta = bare !== undefined && tiergate !== undefined ? `${tiergate - bare >= 0 ? '+' : ''}${(tiergate - bare).toFixed(0)}` : '—'
      console.log(`| ${label} | ${cells.map((v) => (v === undefined ? '—' : v.toFixed(0))).join(' | ')} | ${delta} |`)
    }
  }
} finally {
  await stop(upstream, ...servers.map(([, server]) => server))
}
