// npm run bench:scale — does a stream cost the same whether it is alone or one of thousands?
//   1. CPU per chunk at 1, 100 and 1,000 concurrent streams (each 50 chunks, one every 20 ms):
//      the gateway's CPU time divided by the chunks it forwarded. A cost that grows with
//      concurrency (timers, maps or listeners per stream) shows up as a rising figure.
//   2. Many idle-ish streams held at once (a slow upstream: one chunk a second): the gateway's
//      RSS before and while they are held, in MB per stream.
// Bounded; exits by itself. The open-files limit caps (2) here: each stream holds two sockets in
// the gateway (client and upstream), so BENCH_IDLE_STREAMS defaults to what the limit allows.
import { Agent, request } from 'undici'
import { cpuMicros, rssMb, startChild, startGateway, stop, type Server } from './lib/procs.ts'
import { execSync } from 'node:child_process'

const CHUNKS = 50
const INTERVAL_MS = 20
const LEVELS = (process.env.BENCH_SCALE_LEVELS ?? '1,100,1000').split(',').map(Number)
/** Two sockets per stream in the gateway, plus headroom for everything else it has open. */
const openFilesLimit = Number(execSync('ulimit -n', { shell: '/bin/bash' }).toString().trim()) || 1024
const IDLE_STREAMS = Number(process.env.BENCH_IDLE_STREAMS ?? Math.min(10_000, Math.floor((openFilesLimit - 500) / 2)))
const IDLE_HOLD_S = Number(process.env.BENCH_IDLE_HOLD_S ?? 20)

const body = JSON.stringify({ model: 'bench-model', stream: true, messages: [{ role: 'user', content: 'Say hello.' }] })

/** Runs `count` streams at once, `rounds` times back to back; returns chunks read. */
async function streams(gateway: Server, count: number, rounds: number, dispatcher: Agent): Promise<number> {
  let chunks = 0
  const one = async () => {
    for (let r = 0; r < rounds; r++) {
      const res = await request(`http://127.0.0.1:${gateway.port}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher })
      const text = await res.body.text()
      if (!text.endsWith('data: [DONE]\n\n')) throw new Error(`a stream did not end cleanly (${res.statusCode})`)
      chunks += text.split('\n\n').length - 2
    }
  }
  await Promise.all(Array.from({ length: count }, one))
  return chunks
}

/** CPU a server burns doing nothing (timers, metrics collection), in µs per second. */
async function idleCpuPerS(server: Server): Promise<number> {
  const before = cpuMicros(server.pid)
  await new Promise((r) => setTimeout(r, 3000))
  return (cpuMicros(server.pid) - before) / 3
}

/** Each level's chunks cost: the server's CPU over the run minus its idle burn, per chunk. */
async function perChunk(server: Server, dispatcher: Agent): Promise<number[]> {
  await streams(server, 50, 2, dispatcher) // warm-up
  const idle = await idleCpuPerS(server)
  const costs: number[] = []
  for (const level of LEVELS) {
    // Enough streams for a stable figure: at least ~4,000 chunks per level.
    const rounds = Math.max(2, Math.ceil(4_000 / (level * CHUNKS)))
    const started = performance.now()
    const before = cpuMicros(server.pid)
    const chunks = await streams(server, level, rounds, dispatcher)
    const cpu = cpuMicros(server.pid) - before - (idle * (performance.now() - started)) / 1000
    costs.push(Math.max(0, cpu) / chunks)
  }
  return costs
}

async function cpuPerChunk(upstream: Server): Promise<string[]> {
  const slowBase = `http://127.0.0.1:${upstream.port}/slow/${INTERVAL_MS}/${CHUNKS}`
  const gateway = await startGateway({ CUSTOM_PROVIDERS: 'bench', BENCH_BASE_URL: `${slowBase}/v1`, BENCH_MODELS: 'bench-model' })
  const bare = await startChild('bare-proxy.ts', { UPSTREAM_ORIGIN: `http://127.0.0.1:${upstream.port}`, UPSTREAM_PATH_PREFIX: `/slow/${INTERVAL_MS}/${CHUNKS}` })
  const dispatcher = new Agent({ connections: 2_000, keepAliveTimeout: 60_000 })
  try {
    const bareCosts = await perChunk(bare, dispatcher)
    const gatewayCosts = await perChunk(gateway, dispatcher)
    return LEVELS.map((level, i) => `| ${level.toLocaleString('en-US')} | ${bareCosts[i].toFixed(1)} | ${gatewayCosts[i].toFixed(1)} | ${(gatewayCosts[i] / gatewayCosts[0]).toFixed(2)}× |`)
  } finally {
    await dispatcher.close()
    await stop(gateway, bare)
  }
}

async function idleStreams(upstream: Server): Promise<string> {
  // One chunk a second, long enough to outlast the hold.
  const gateway = await startGateway({ CUSTOM_PROVIDERS: 'bench', BENCH_BASE_URL: `http://127.0.0.1:${upstream.port}/slow/1000/${IDLE_HOLD_S + 30}/v1`, BENCH_MODELS: 'bench-model', TIMEOUT_IDLE_MS: '10000' })
  const dispatcher = new Agent({ connections: IDLE_STREAMS + 10, keepAliveTimeout: 60_000, connectTimeout: 60_000 })
  const controller = new AbortController()
  try {
    await fetch(`http://127.0.0.1:${gateway.port}/health`)
    const before = rssMb(gateway.pid)
    let open = 0
    let failed = 0
    const opened = Array.from({ length: IDLE_STREAMS }, async (_, i) => {
      await new Promise((r) => setTimeout(r, Math.floor(i / 200) * 50)) // 200 connects per 50 ms
      try {
        const res = await request(`http://127.0.0.1:${gateway.port}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher, signal: controller.signal })
        open++
        res.body.on('error', () => undefined)
        res.body.resume()
      } catch {
        failed++
      }
    })
    await Promise.all(opened)
    let peak = before
    for (let s = 0; s < IDLE_HOLD_S; s++) {
      await new Promise((r) => setTimeout(r, 1000))
      peak = Math.max(peak, rssMb(gateway.pid))
    }
    const held = rssMb(gateway.pid)
    return `| ${open.toLocaleString('en-US')} held (${failed} failed to open; open-files limit ${openFilesLimit}) | ${before.toFixed(0)} MB | ${held.toFixed(0)} MB (peak ${peak.toFixed(0)}) | ${open > 0 ? (((held - before) * 1024) / open).toFixed(1) : 'n/a'} KB |`
  } finally {
    controller.abort()
    await dispatcher.destroy().catch(() => undefined)
    await stop(gateway)
  }
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error('bench:scale: watchdog fired')
    process.exit(1)
  }, 15 * 60_000)
  watchdog.unref()
  const upstream = await startChild('upstream.ts')
  try {
    const cpuRows = await cpuPerChunk(upstream)
    console.log(`\nCPU per chunk (${CHUNKS} chunks per stream, one every ${INTERVAL_MS} ms):\n`)
    console.log('| concurrent streams | bare proxy CPU µs/chunk | tiergate CPU µs/chunk | tiergate vs its own at 1 |')
    console.log('|---|---|---|---|')
    for (const row of cpuRows) console.log(row)
    const idle = await idleStreams(upstream)
    console.log(`\nIdle-ish streams (one chunk a second, held ${IDLE_HOLD_S} s):\n`)
    console.log('| streams | gateway RSS before | while held | per stream |')
    console.log('|---|---|---|---|')
    console.log(idle)
  } finally {
    await stop(upstream)
  }
}

await main()
