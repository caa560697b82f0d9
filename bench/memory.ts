// node bench/memory.ts — the gateway's memory as `npm start` runs it: idle RSS (after start-up
// and one request of each kind; the median of BENCH_MEMORY_STARTS fresh starts, as idle memory
// moves with when V8 last collected), then RSS after a short c=50 load of JSON answers and
// streams, with the CPU µs per request of that load. A quick probe for memory work; `npm run
// bench` has the paired figures. Then the resume path's memory: a gateway whose tier 1 cuts every
// stream, RSS after one resumed stream (which starts the o200k_base token counter's thread) and
// after 200 more, as the soak's mix holds it (BENCH_MEMORY_RESUME=0 skips it). BENCH_NODE_FLAGS
// overrides the node flags of the start script (e.g. "--max-semi-space-size=4");
// BENCH_NO_COMPILE_CACHE=1 runs without the compile cache.
import { measure } from './lib/load.ts'
import { median, rssMb, startChild, startGateway, stop } from './lib/procs.ts'
import { FEATURES, PLAIN_ENV } from './lib/features.ts'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5)
const STARTS = Number(process.env.BENCH_MEMORY_STARTS ?? 3)
const LOAD = process.env.BENCH_MEMORY_LOAD !== '0'
const RESUME = process.env.BENCH_MEMORY_RESUME !== '0'
/** The counter's thread is ready about a second after the first resume; its build garbage is collected then. */
const COUNTER_SETTLE_MS = 3000
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
  if (RESUME) await resumeMemory(origin)
} finally {
  await stop(upstream)
}

async function resumeMemory(origin: string): Promise<void> {
  const resumed = FEATURES.find((f) => f.name.startsWith('resumed stream'))!
  const gateway = await startGateway({ ...PLAIN_ENV(origin), ...resumed.env(origin), RATE_LIMIT_MAX: '1000000000' })
  try {
    const url = `http://127.0.0.1:${gateway.port}${resumed.path}`
    const ask = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: resumed.body as string }).then((r) => r.text())
    const before = rssMb(gateway.pid)
    const first = await ask()
    const failed = resumed.check?.(new Response(), first)
    if (failed) throw new Error(`resumed stream: ${failed}`)
    await new Promise((r) => setTimeout(r, COUNTER_SETTLE_MS))
    const afterOne = rssMb(gateway.pid)
    for (let i = 0; i < 200; i++) await ask()
    await new Promise((r) => setTimeout(r, 1000))
    console.log(`resume path RSS: idle ${before.toFixed(0)} MB → after one resumed stream ${afterOne.toFixed(0)} MB → after 200 more ${rssMb(gateway.pid).toFixed(0)} MB`)
  } finally {
    await stop(gateway)
  }
}
