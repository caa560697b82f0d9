// npm run bench — tiergate's pass-through overhead against a bare undici proxy, same run,
// same upstream: autocannon at concurrency 50, non-stream and stream (20 chunks).
// Prints req/s, p50/p99 latency and the ratio tiergate/bare for each.
import { fork, type ChildProcess } from 'node:child_process'
import autocannon from 'autocannon'
import { once } from 'node:events'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 6)
/** Bare and tiergate runs alternate: on a small shared machine one run's luck must not decide. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const here = new URL('.', import.meta.url).pathname

async function start(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(script, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const [message] = (await once(child, 'message')) as [{ port: number }]
  return { child, port: message.port }
}

async function startGateway(upstreamOrigin: string): Promise<{ child: ChildProcess; port: number }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const child = fork(`${here}../server.ts`, {
    env: {
      ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn',
      CUSTOM_PROVIDERS: 'bench', BENCH_BASE_URL: `${upstreamOrigin}/v1`, BENCH_MODELS: 'bench-model',
      PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0',
      RATE_LIMIT_MAX: '1000000000',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false)
    if (ok) return { child, port }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('gateway did not start')
}

const body = (stream: boolean) => JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })

async function load(port: number, stream: boolean, duration = DURATION_S) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body(stream),
    connections: CONNECTIONS,
    duration,
  })
  const failures = result.errors + result.timeouts + result.non2xx
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, failures, total: result.requests.total }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
/** The run with the median req/s, so its latencies belong to it. */
const medianRun = <T extends { rps: number }>(runs: T[]) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]
const sum = <T>(runs: T[], key: keyof T) => runs.reduce((total, run) => total + Number(run[key]), 0)

async function main() {
  const upstream = await start(`${here}upstream.ts`, {})
  const origin = `http://127.0.0.1:${upstream.port}`
  const bare = await start(`${here}bare-proxy.ts`, { UPSTREAM_ORIGIN: origin })
  const gateway = await startGateway(origin)
  const rows: string[] = []
  try {
    for (const stream of [false, true]) {
      const label = stream ? `stream (20 chunks)` : 'non-stream'
      // Warm both (JIT, pools) before measuring.
      await load(bare.port, stream, 2)
      await load(gateway.port, stream, 2)
      const bares: Awaited<ReturnType<typeof load>>[] = []
      const gateways: Awaited<ReturnType<typeof load>>[] = []
      for (let round = 0; round < ROUNDS; round++) {
        bares.push(await load(bare.port, stream))
        gateways.push(await load(gateway.port, stream))
      }
      const ratios = gateways.map((g, i) => g.rps / bares[i].rps).sort((a, b) => a - b)
      const b = medianRun(bares)
      const g = medianRun(gateways)
      rows.push(`| ${label} | bare undici proxy | ${b.rps.toFixed(0)} | ${b.p50} | ${b.p99} | ${sum(bares, 'failures')} |`)
      rows.push(`| ${label} | tiergate | ${g.rps.toFixed(0)} | ${g.p50} | ${g.p99} | ${sum(gateways, 'failures')} |`)
      rows.push(`| ${label} | **ratio tiergate/bare** (median of ${ROUNDS} paired rounds; range) | **${median(ratios).toFixed(2)}** (${ratios[0].toFixed(2)}–${ratios.at(-1)!.toFixed(2)}) | | | |`)
    }
  } finally {
    for (const c of [gateway.child, bare.child, upstream.child]) c.kill()
  }
  console.log(`\nconcurrency ${CONNECTIONS}, ${ROUNDS} rounds of ${DURATION_S} s per server and workload, node ${process.version}\n`)
  console.log('| workload | server | req/s | p50 ms | p99 ms | errors |')
  console.log('|---|---|---|---|---|---|')
  for (const row of rows) console.log(row)
}

await main()
