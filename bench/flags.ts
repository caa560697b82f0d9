// node bench/flags.ts "<flags A>" "<flags B>" … — the same gateway started with different node
// flags side by side, measured in alternating rounds (c=50, stream and non-stream): CPU µs per
// request and RSS after the load. What picked the V8 flags of `npm start` (README, Benchmarks).
import { measure, type LoadResult } from './lib/load.ts'
import { median, rssMb, startChild, startGateway, stop, type Server } from './lib/procs.ts'
import { PLAIN_ENV } from './lib/features.ts'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const variants = process.argv.slice(2)
const chatBody = (stream: boolean) => JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })

const upstream = await startChild('upstream.ts')
const gateways: Server[] = []
try {
  for (const flags of variants) {
    process.env.BENCH_NODE_FLAGS = flags
    gateways.push(await startGateway({ ...PLAIN_ENV(`http://127.0.0.1:${upstream.port}`), RATE_LIMIT_MAX: '1000000000' }))
  }
  const idle = gateways.map((g) => rssMb(g.pid))
  const cpu = new Map<string, LoadResult[]>()
  for (const stream of [false, true]) {
    const options = { body: chatBody(stream), connections: 50, durationS: DURATION_S }
    for (const g of gateways) await measure(g, { ...options, durationS: 2 })
    for (let round = 0; round < ROUNDS; round++) {
      gateways.forEach((_, i) => cpu.set(`${i}/${stream}`, cpu.get(`${i}/${stream}`) ?? []))
      for (const [i, g] of gateways.entries()) cpu.get(`${i}/${stream}`)!.push(await measure(g, options))
    }
  }
  console.log('| node flags | CPU µs/req non-stream (range) | CPU µs/req stream (range) | RSS idle → after |')
  console.log('|---|---|---|---|')
  for (const [i, flags] of variants.entries()) {
    const at = (stream: boolean) => {
      const runs = cpu.get(`${i}/${stream}`)!.map((r) => r.cpuUsPerRequest)
      return `${median(runs).toFixed(0)} (${Math.min(...runs).toFixed(0)}–${Math.max(...runs).toFixed(0)})`
    }
    console.log(`| ${flags || '(none)'} | ${at(false)} | ${at(true)} | ${idle[i].toFixed(0)} → ${rssMb(gateways[i].pid).toFixed(0)} MB |`)
  }
} finally {
  await stop(upstream, ...gateways)
}
