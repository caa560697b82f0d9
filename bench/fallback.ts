// npm run bench:fallback — 1,000 concurrent streaming clients through tiergate while 30 % of
// tier-1 requests fail in mixed ways (status, reset, hang → first-byte timeout, cut before the
// first chunk) and tier 2 is healthy. Three processes: the upstreams (bench/fallback-upstreams.ts),
// the gateway (`node server.ts`) and the clients (here). Reports the success rate (an answer
// counts only if it ends with [DONE] and carries no error event), p50/p99 of the whole stream,
// fallbacks, the gateway's peak RSS, and the upstream sockets and requests left afterwards.
// Exits 1 unless every request was answered and nothing was left open. Bounded in time.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { Pool } from 'undici'
import { freePort } from './lib/procs.ts'

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000)
const REQUESTS_PER_CLIENT = Number(process.env.BENCH_REQUESTS_PER_CLIENT ?? 3)
const RUN_DEADLINE_MS = Number(process.env.BENCH_DEADLINE_MS ?? 180_000)
/** How long idle keep-alive sockets may take to close once the load is over. */
const SOCKETS_DEADLINE_MS = 20_000
/** Start-up, the socket wait and the shutdown, on top of the load's own deadline. */
const WATCHDOG_SLACK_MS = 90_000
const here = new URL('.', import.meta.url).pathname

type UpstreamStats = {
  requests: number
  answered: number
  inFlight: number
  faults: Record<string, number>
  sockets: { open: number; busy: number; neverUsed: number; idleKeepAlive: number }
}
type Stats = { tier1: UpstreamStats; tier2: UpstreamStats }

async function startUpstreams(): Promise<{ child: ChildProcess; ports: { tier1: number; tier2: number }; stats(): Promise<Stats> }> {
  const child = fork(`${here}fallback-upstreams.ts`, { env: { ...process.env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const [message] = (await once(child, 'message')) as [{ ports: { tier1: number; tier2: number } }]
  return {
    child,
    ports: message.ports,
    async stats() {
      child.send('stats')
      for (;;) {
        const [reply] = (await once(child, 'message')) as [{ stats?: Stats }]
        if (reply.stats) return reply.stats
      }
    },
  }
}

async function startGateway(ports: { tier1: number; tier2: number }): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort()
  const child = fork(`${here}../server.ts`, {
    env: {
      PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'error',
      PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0', RATE_LIMIT_MAX: '0',
      CUSTOM_PROVIDERS: 'one,two',
      ONE_BASE_URL: `http://127.0.0.1:${ports.tier1}/v1`, ONE_MODELS: 'bench-model', PROVIDER_PRIORITY_ONE: '1',
      TWO_BASE_URL: `http://127.0.0.1:${ports.tier2}/v1`, TWO_MODELS: 'bench-model', PROVIDER_PRIORITY_TWO: '2',
      // A hang is abandoned at the adaptive first-byte limit (p95 × 4, at least 1 s), never later than 5 s.
      TIMEOUT_FIRST_BYTE_MS: '5000', TIMEOUT_FIRST_BYTE_MIN_MS: '1000', TIMEOUT_ADAPTIVE_FACTOR: '4',
      TIMEOUT_IDLE_MS: '5000', TIMEOUT_TOTAL_MS: '30000',
      SHUTDOWN_GRACE_MS: '10000',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    if (await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)) return { child, port }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill()
  throw new Error('the gateway did not start')
}

/** Resident and peak resident set size of a process, in MiB (Linux /proc; undefined elsewhere). */
function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1])
    return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 }
  } catch {
    return undefined
  }
}

interface Outcome {
  ok: boolean
  ms: number
  provider: string | null
  attempts: number
  problem?: string
}

const BODY = JSON.stringify({ model: 'bench-model', stream: true, messages: [{ role: 'user', content: 'Say hello.' }] })

async function oneStream(pool: Pool, signal: AbortSignal): Promise<Outcome> {
  const started = performance.now()
  try {
    const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, signal })
    const text = await res.body.text()
    const ms = performance.now() - started
    const provider = (res.headers['x-tiergate-provider'] as string | undefined) ?? null
    const attempts = Number(res.headers['x-tiergate-attempts'] ?? 0)
    const frames = text.split('\n\n').map((f) => f.trim()).filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))
    const problem = res.statusCode !== 200 ? `HTTP ${res.statusCode}`
      : frames.at(-1) !== '[DONE]' ? 'no [DONE]'
        : frames.some((f) => f.startsWith('{"error"')) ? 'error event'
          : undefined
    return { ok: problem === undefined, ms, provider, attempts, problem }
  } catch (err) {
    return { ok: false, ms: performance.now() - started, provider: null, attempts: 0, problem: (err as Error).message }
  }
}

type ProvidersStatus = {
  providers: Array<{ name: string; breaker: { state: string; stats: Record<string, number> }; health: { firstByteP95Ms: number | null } }>
  fallbacks: { total: number }
}
const fallbacksOf = async (port: number) => ((await fetch(`http://127.0.0.1:${port}/providers`).then((r) => r.json())) as ProvidersStatus).fallbacks.total

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN

async function main() {
  const upstreams = await startUpstreams()
  let gateway: { child: ChildProcess; port: number } | undefined
  let pool: Pool | undefined
  let sampler: NodeJS.Timeout | undefined
  let exitCode = 1
  // Whatever hangs (a child that died, a stuck close), the run ends: children killed, exit 1.
  const watchdog = setTimeout(() => {
    console.error(`bench:fallback: over its ${RUN_DEADLINE_MS + WATCHDOG_SLACK_MS} ms limit, giving up`)
    gateway?.child.kill('SIGKILL')
    upstreams.child.kill('SIGKILL')
    process.exit(1)
  }, RUN_DEADLINE_MS + WATCHDOG_SLACK_MS)
  watchdog.unref()
  try {
    const gw = gateway = await startGateway(upstreams.ports)
    const clients = pool = new Pool(`http://127.0.0.1:${gw.port}`, { connections: CLIENTS, headersTimeout: 60_000, bodyTimeout: 60_000 })
    const gatewayPid = gw.child.pid!
    const deadline = AbortSignal.timeout(RUN_DEADLINE_MS)
    let peakRss = 0
    sampler = setInterval(() => { peakRss = Math.max(peakRss, memoryOf(gatewayPid)?.rss ?? 0) }, 250)
    const before = memoryOf(gatewayPid)
    // Warm-up: the adaptive first-byte limit needs samples, the JIT its first calls, and the
    // 1,000 client connections are opened here (a burst of 1,000 connects overflows the
    // 511-deep listen queue and costs SYN retransmits of 1 s and more: not what is measured).
    await Promise.all(Array.from({ length: 50 }, () => oneStream(clients, deadline)))
    await Promise.all(Array.from({ length: CLIENTS }, () => oneStream(clients, deadline)))
    const warm = await upstreams.stats()
    const fallbacksAtStart = await fallbacksOf(gw.port)

    const outcomes: Outcome[] = []
    const startedAt = performance.now()
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < REQUESTS_PER_CLIENT && !deadline.aborted; i++) outcomes.push(await oneStream(clients, deadline))
    }))
    const wallS = (performance.now() - startedAt) / 1000
    clearInterval(sampler)
    const after = memoryOf(gw.child.pid!)

    const providers = await fetch(`http://127.0.0.1:${gw.port}/providers`).then((r) => r.json()) as ProvidersStatus
    const afterLoad = await upstreams.stats()
    await clients.close()

    // Idle keep-alive connections close on their own; nothing else may remain.
    const socketsFrom = Date.now()
    let end = afterLoad
    while (Date.now() - socketsFrom < SOCKETS_DEADLINE_MS && end.tier1.sockets.open + end.tier2.sockets.open > 0) {
      await new Promise((r) => setTimeout(r, 250))
      end = await upstreams.stats()
    }
    const socketsClosedS = (Date.now() - socketsFrom) / 1000

    const answered = outcomes.filter((o) => o.ok)
    const sorted = outcomes.map((o) => o.ms).sort((a, b) => a - b)
    const fallbacks = outcomes.filter((o) => o.ok && o.attempts > 1).length
    const problems = new Map<string, number>()
    for (const o of outcomes) if (!o.ok) problems.set(o.problem!, (problems.get(o.problem!) ?? 0) + 1)
    const t1 = { requests: afterLoad.tier1.requests - warm.tier1.requests, faults: Object.fromEntries(Object.entries(afterLoad.tier1.faults).map(([k, v]) => [k, v - warm.tier1.faults[k]])) }
    const faultTotal = Object.values(t1.faults).reduce((a, b) => a + b, 0)
    const one = providers.providers.find((p) => p.name === 'one')!
    const leftSockets = end.tier1.sockets.open + end.tier2.sockets.open
    const leftRequests = afterLoad.tier1.inFlight + afterLoad.tier2.inFlight
    const busyOrUnused = (s: UpstreamStats['sockets']) => s.busy + s.neverUsed

    const rows: Array<[string, string]> = [
      ['concurrent streaming clients', `${CLIENTS} × ${REQUESTS_PER_CLIENT} requests = ${outcomes.length} streams (${wallS.toFixed(1)} s, ${(outcomes.length / wallS).toFixed(0)} streams/s)`],
      ['tier-1 failures', `${faultTotal} of ${t1.requests} tier-1 requests (${((faultTotal / t1.requests) * 100).toFixed(1)} %): ${Object.entries(t1.faults).map(([k, v]) => `${k} ${v}`).join(', ')}`],
      ['answered (200, [DONE], no error event)', `**${answered.length} / ${outcomes.length} (${((answered.length / outcomes.length) * 100).toFixed(2)} %)**${problems.size ? ` — failures: ${[...problems].map(([k, v]) => `${k} ×${v}`).join(', ')}` : ''}`],
      ['whole-stream latency p50 / p99 / max', `${percentile(sorted, 0.5).toFixed(0)} ms / ${percentile(sorted, 0.99).toFixed(0)} ms / ${sorted.at(-1)!.toFixed(0)} ms`],
      ['answered after a fallback', `${fallbacks} (the gateway's own count: ${providers.fallbacks.total - fallbacksAtStart}); tier-1 breaker ${one.breaker.state} (${one.breaker.stats.failures} failures, ${one.breaker.stats.rejects} rejected while open), tier-1 first-byte p95 ${one.health.firstByteP95Ms?.toFixed(0) ?? '–'} ms`],
      ['gateway RSS: before / peak (sampled) / peak (VmHWM) / after', before && after ? `${before.rss.toFixed(0)} / ${peakRss.toFixed(0)} / ${after.peak.toFixed(0)} / ${after.rss.toFixed(0)} MiB` : 'n/a (no /proc)'],
      ['upstream requests still running after the load', `${leftRequests}`],
      ['upstream sockets right after the load', `${afterLoad.tier1.sockets.open + afterLoad.tier2.sockets.open} open, of which busy or never used: ${busyOrUnused(afterLoad.tier1.sockets) + busyOrUnused(afterLoad.tier2.sockets)} (the rest idle keep-alive)`],
      ['upstream sockets left', `**${leftSockets}** (idle keep-alive closed by the pools within ${socketsClosedS.toFixed(1)} s)`],
    ]

    // Last: the gateway shuts down cleanly after all that.
    gw.child.kill('SIGTERM')
    const [code] = (await once(gw.child, 'exit')) as [number | null]
    rows.push(['gateway exit after SIGTERM', `code ${code}`])

    console.log(`\nnode ${process.version}, ${CLIENTS} clients, tier 1 failing 30 %, tier 2 healthy\n`)
    console.log('| measure | result |')
    console.log('|---|---|')
    for (const [k, v] of rows) console.log(`| ${k} | ${v} |`)
    const passed = answered.length === outcomes.length && outcomes.length === CLIENTS * REQUESTS_PER_CLIENT && leftSockets === 0 && leftRequests === 0 && code === 0
    console.log(passed ? '\nPASS: every stream answered, nothing left open.' : '\nFAIL: see the table.')
    exitCode = passed ? 0 : 1
  } finally {
    clearTimeout(watchdog)
    clearInterval(sampler)
    await pool?.destroy().catch(() => undefined)
    if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL')
    upstreams.child.kill()
  }
  process.exitCode = exitCode
}

await main()
