// node bench/memory.ts — the gateway's memory as `npm start` runs it: idle RSS (after start-up
// and one request of each kind; the median of BENCH_MEMORY_STARTS fresh starts, as idle memory
// moves with when V8 last collected), then RSS after a short c=50 load of JSON answers and
// streams, with the CPU µs per request of that load. A quick probe for memory work; `npm run
// bench` has the paired figures. BENCH_NODE_FLAGS overrides the node flags of the start script
// (e.g. "--max-semi-space-size=4"); BENCH_NO_COMPILE_CACHE=1 runs without the compile cache.
import { measure } from './lib/load.ts'
import { median, rssMb, startChild, startGateway, stop } from './lib/procs.ts'
import { PLAIN_ENV } from './lib/features.ts'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5)
const STARTS = Number(process.env.BENCH_MEMORY_STARTS ?? 3)
const LOAD = process.env.BENCH_MEMORY_LOAD !== '0'
const chatBody = (stream: boolean) => JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })

const upstream = await startChild('upstream.ts')
const origin = `http://127.0.0.1:${upstream.port}`
try {
  const idle: number[] = []
  let flags: string[] = []
  for (let start = 0; start < STARTS; start++) {
    const gateway = await startGateway({ ...PLAIN_ENV(origin), RATE_LIMIT_MAX: '1000000000' })
    flags = gateway.flags
    try {
      const url = `http://127.0.0.1:${gateway.port}/v1/chat/completions`
      for (const stream of [false, true]) await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody(stream) }).then((r) => r.text())
      await new Promise((r) => setTimeout(r, 1500))
      idle.push(rssMb(gateway.pid))
      if (!LOAD || start < STARTS - 1) continue
      const cpu: string[] = []
      for (const stream of [false, true]) {
        const result = await measure(gateway, { body: chatBody(stream), connections: 50, durationS: DURATION_S })
        cpu.push(`${stream ? 'stream' : 'non-stream'} ${result.cpuUsPerRequest.toFixed(0)} µs/req`)
      }
      await new Promise((r) => setTimeout(r, 1000))
      console.log(`after load ${rssMb(gateway.pid).toFixed(0)} MB; ${cpu.join(', ')}`)
    } finally {
      await stop(gateway)
    }
  }
  console.log(`idle RSS ${median(idle).toFixed(0)} MB (${idle.map((n) => n.toFixed(0)).join(', ')}); flags: ${flags.join(' ') || 'none'}`)
} finally {
  await stop(upstream)
}
