// node bench/trees.ts <server> <server> … — the A/B tool: several servers on one mock upstream,
// measured in alternating rounds (c=50, non-stream and stream): CPU µs per request, median with
// its range, and RSS after. A server is `bare` (bench/bare-proxy.ts), `floor`
// (bench/fastify-proxy.ts), `plugins` (bench/plugin-floor.ts), `core` (bench/core-floor.ts:
// this tree's core with no framework on the chat route), or a tiergate tree — a
// directory, started with its own server.ts as `npm start` runs it, e.g. a `git worktree` of
// the commit before a change — optionally with environment after a `?`:
// `/tmp/before?STREAM_RESUME=0` (`{origin}` in a value: the mock upstream's origin). What every performance change in the README was kept or
// dropped by.
//   BENCH_DURATION_S (4), BENCH_ROUNDS (5), BENCH_MODES (false,true: non-stream, stream),
//   BENCH_TTFB_REQUESTS (0: off; else each round also takes each server's TTFB at c=1, the
//   median of that many sequential requests, as `npm run bench` does once)
import { measure, type LoadResult } from './lib/load.ts'
import { ttfbMs } from './lib/ttfb.ts'
import { median, rssMb, startChild, startGateway, stop, type Server } from './lib/procs.ts'
import { PLAIN_ENV } from './lib/features.ts'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const MODES = (process.env.BENCH_MODES ?? 'false,true').split(',').map((m) => m === 'true')
const TTFB_REQUESTS = Number(process.env.BENCH_TTFB_REQUESTS ?? 0)
const chatBody = (stream: boolean) => JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })

/** A tree's gateway, with the environment after its `?`, and the rate limiter on with a huge budget as in `npm run bench`. */
function startTree(spec: string, origin: string): Promise<Server> {
  const [dir, query] = spec.split('?')
  // `{origin}` in a value is the mock upstream's origin (`?OLLAMA_BASE_URL={origin}`).
  const env = Object.fromEntries([...new URLSearchParams(query ?? '')].map(([name, value]) => [name, value.replaceAll('{origin}', origin)]))
  return startGateway({ ...PLAIN_ENV(origin), RATE_LIMIT_MAX: '1000000000', ...env }, dir)
}

const specs = process.argv.slice(2)
if (specs.length === 0) {
  console.error('usage: node bench/trees.ts <bare|floor|plugins|core|dir[?ENV=value&…]> …')
  process.exit(2)
}
const upstream = await startChild('upstream.ts')
const origin = `http://127.0.0.1:${upstream.port}`
const servers: Array<{ spec: string; server: Server }> = []
try {
  for (const spec of specs) {
    const server = spec === 'bare' ? await startChild('bare-proxy.ts', { UPSTREAM_ORIGIN: origin })
      : spec === 'floor' ? await startChild('fastify-proxy.ts', { UPSTREAM_ORIGIN: origin })
        : spec === 'plugins' ? await startChild('plugin-floor.ts', { UPSTREAM_ORIGIN: origin })
          : spec === 'core' ? await startGateway({ ...PLAIN_ENV(origin), RATE_LIMIT_MAX: '1000000000' }, undefined, 'bench/core-floor.ts')
            : await startTree(spec, origin)
    servers.push({ spec, server })
  }
  const runs = new Map<string, LoadResult[]>()
  const ttfbs = new Map<string, number[]>()
  for (const stream of MODES) {
    const options = { body: chatBody(stream), connections: 50, durationS: DURATION_S }
    for (const { server } of servers) await measure(server, { ...options, durationS: 2 }) // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const { spec, server } of servers) runs.set(`${spec} ${stream}`, [...(runs.get(`${spec} ${stream}`) ?? []), await measure(server, options)])
      if (TTFB_REQUESTS > 0) {
        for (const { spec, server } of servers) {
          const ms = await ttfbMs(`http://127.0.0.1:${server.port}`, '/v1/chat/completions', options.body, TTFB_REQUESTS)
          ttfbs.set(`${spec} ${stream}`, [...(ttfbs.get(`${spec} ${stream}`) ?? []), ms])
        }
      }
    }
  }
  const range = (values: number[], digits: number) => `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`
  const ttfbHeads = TTFB_REQUESTS > 0 ? MODES.map((s) => ` TTFB ms c=1 ${s ? 'stream' : 'non-stream'} (range) |`).join('') : ''
  console.log(`| server | ${MODES.map((s) => `CPU µs/req ${s ? 'stream' : 'non-stream'} (range)`).join(' | ')} |${ttfbHeads} RSS after |`)
  console.log(`|---|${MODES.map(() => '---|').join('')}${TTFB_REQUESTS > 0 ? MODES.map(() => '---|').join('') : ''}---|`)
  for (const { spec, server } of servers) {
    const cells = MODES.map((stream) => range(runs.get(`${spec} ${stream}`)!.map((r) => r.cpuUsPerRequest), 0))
    const ttfbCells = TTFB_REQUESTS > 0 ? MODES.map((stream) => ` ${range(ttfbs.get(`${spec} ${stream}`)!, 3)} |`).join('') : ''
    console.log(`| ${spec} | ${cells.join(' | ')} |${ttfbCells} ${rssMb(server.pid).toFixed(0)} MB |`)
  }
} finally {
  await stop(upstream, ...servers.map((s) => s.server))
}
