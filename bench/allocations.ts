// node --expose-gc bench/allocations.ts [stream|json] [calls] — bytes the gateway allocates per
// call, and where: V8's sampling heap profiler with collected objects included (so garbage
// counts, not only what survives), over `calls` calls of app.chat (and, for a stream, its SSE
// body) 50 at a time, as bench/in-process.ts makes them; beside it the same requests from a bare
// undici Pool, the reference. Allocation is deterministic where CPU time is noisy on a shared
// machine, so it shows an allocation-cutting change at once; the collector's share of the CPU
// follows it.
import { Session } from 'node:inspector/promises'
import { Pool } from 'undici'
import { startInProcessGateway } from './in-process-gateway.ts'

const stream = (process.argv[2] ?? 'stream') === 'stream'
const CALLS = Number(process.argv[3] ?? 20_000)
const CONCURRENCY = 50
const TOP = 25

interface ProfileNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: ProfileNode[] }

const inProcess = await startInProcessGateway(stream)
const gatewayCall = inProcess.call

const pool = new Pool(`http://127.0.0.1:${inProcess.upstreamPort}`, { connections: 2048 })
const body = JSON.stringify({ model: 'bench-model', stream, stream_options: stream ? { include_usage: true } : undefined, messages: [{ role: 'user', content: 'Say hello.' }] })
async function undiciCall(): Promise<void> {
  const answer = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body })
  for await (const _chunk of answer.body) { /* read to the end */ }
}

async function run(call: () => Promise<void>, calls: number): Promise<void> {
  let left = calls
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (left-- > 0) await call()
  }))
}

const session = new Session()
session.connect()

/** Sampled bytes per call, by allocating function. */
async function profile(call: () => Promise<void>): Promise<{ perCall: number; sites: Array<[string, number]> }> {
  await run(call, Math.min(CALLS, 5_000)) // warm-up: JIT, pools
  globalThis.gc?.()
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
  await run(call, CALLS)
  const { profile: sampled } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } }
  const bySite = new Map<string, number>()
  let total = 0
  const walk = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame
    const site = `${functionName || '(anonymous)'}  ${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(?=[^/]+\/[^/]+$)/, '') || '(native)'}:${lineNumber + 1}`
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
    total += node.selfSize
    node.children.forEach(walk)
  }
  walk(sampled.head)
  return { perCall: total / CALLS, sites: [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP) }
}

const reference = await profile(undiciCall)
const gateway = await profile(gatewayCall)
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
console.log(`${stream ? 'stream (20 chunks)' : 'non-stream'}, ${CALLS} calls, ${CONCURRENCY} at a time:`)
console.log(`  tiergate (app.chat${stream ? ' + SSE body' : ''}): ${kb(gateway.perCall)} allocated per call`)
console.log(`  bare undici Pool, same requests: ${kb(reference.perCall)} per call`)
console.log(`\ntiergate's top ${TOP} allocating sites, bytes per call:`)
for (const [site, bytes] of gateway.sites) console.log(`${(bytes / CALLS).toFixed(0).padStart(7)} B  ${site}`)
session.disconnect()
await pool.close()
await inProcess.close()
