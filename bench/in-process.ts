// node bench/in-process.ts [stream|json] [seconds] — the gateway's own work per request without
// an HTTP server in front: app.chat (pipeline → router → provider → undici to the mock upstream)
// and, for a stream, the SSE body the route would write, 50 calls at a time; CPU µs per call
// (process.cpuUsage, median of 5 rounds with the range). Set beside `npm run bench`'s figures it
// splits tiergate's cost into the framework's part (Fastify, hooks) and its own.
import { callsFor, startInProcessGateway } from './in-process-gateway.ts'

const stream = (process.argv[2] ?? 'stream') === 'stream'
const seconds = Number(process.argv[3] ?? 3)
const CONCURRENCY = 50
const ROUNDS = 5

const gateway = await startInProcessGateway(stream)
const oneRequest = gateway.call

const run = (ms: number) => callsFor(oneRequest, ms, CONCURRENCY)

await run(2000) // warm-up: JIT, pools
const perCall: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  const before = process.cpuUsage()
  const calls = await run(seconds * 1000)
  const used = process.cpuUsage(before)
  perCall.push((used.user + used.system) / calls)
}
perCall.sort((a, b) => a - b)
console.log(`in-process ${stream ? 'stream (20 chunks)' : 'non-stream'}: ${perCall[2].toFixed(1)} µs CPU per call (${perCall[0].toFixed(1)}–${perCall[4].toFixed(1)}), ${CONCURRENCY} at a time`)
await gateway.close()
