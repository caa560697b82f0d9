// npm run bench — what tiergate costs on top of a bare undici pass-through proxy, same run, same
// upstream, and what each feature on the hot path costs on top of the plain path.
//   1. Pass-through: autocannon at concurrency 50, non-stream and stream (20 chunks), the bare
//      proxy, the framework floor (Fastify 5 + undici, one route, nothing else), the plugin floor
//      (that plus the libraries tiergate's requests go through, configured as tiergate configures
//      them: bench/plugin-floor.ts), the core floor (tiergate's own core behind a bare node:http
//      route, no framework: bench/core-floor.ts) and tiergate alternating over rounds: req/s, p50/p99, CPU µs
//      per request of the server process (read from /proc: the steadiest figure on a shared
//      2-core machine) and RSS.
//   2. +TTFB at concurrency 1: time to the first body byte, direct to the upstream, through the
//      bare proxy and through tiergate.
//   3. Features: one gateway per scenario (a provider key, Anthropic Messages in, Responses in,
//      Ollama and Anthropic upstreams, a resumed stream, the cache, traces, sessions), each
//      alternating round by round with one plain gateway: CPU µs per request next to the plain path's.
// Every server is its own process; the run is bounded and exits by itself.
import { measure, type LoadResult } from './lib/load.ts'
import { median, rssMb, startChild, startGateway, stop, type Server } from './lib/procs.ts'
import { ttfbMs } from './lib/ttfb.ts'
import { FEATURES, PLAIN_ENV, probe } from './lib/features.ts'
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.ts'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 6)
/** Bare and tiergate runs alternate: on a small shared machine one run's luck must not decide. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const TTFB_REQUESTS = Number(process.env.BENCH_TTFB_REQUESTS ?? 2000)
const FEATURE_DURATION_S = Number(process.env.BENCH_FEATURE_DURATION_S ?? 5)
const ONLY = process.env.BENCH_ONLY // "passthrough" | "features"

const chatBody = (stream: boolean) => JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a')
/** Each round's ratio of `runs` to `base` (the same round), sorted: median and range read off it. */
const ratiosTo = (runs: LoadResult[], base: LoadResult[]) => runs.map((r, i) => r.cpuUsPerRequest / base[i].cpuUsPerRequest).sort((a, b) => a - b)
/** `1.23× (1.10–1.40)`: a sorted list of ratios as its median and range. */
const ratioCell = (ratios: number[]) => `${fmt(median(ratios), 2)}× (${fmt(ratios[0], 2)}–${fmt(ratios.at(-1)!, 2)})`

async function passThrough(upstream: Server, rows: string[], summary: string[]): Promise<void> {
  const origin = `http://127.0.0.1:${upstream.port}`
  const bare = await startChild('bare-proxy.ts', { UPSTREAM_ORIGIN: origin })
  const framework = await startChild('fastify-proxy.ts', { UPSTREAM_ORIGIN: origin })
  const plugins = await startChild('plugin-floor.ts', { UPSTREAM_ORIGIN: origin })
  const core = await startGateway({ ...PLAIN_ENV(origin), RATE_LIMIT_MAX: '1000000000' }, undefined, 'bench/core-floor.ts')
  const gateway = await startGateway({ ...PLAIN_ENV(origin), RATE_LIMIT_MAX: '1000000000' })
  try {
    // Idle: after start-up and one request each (lazy parts loaded), before any load.
    await fetch(`http://127.0.0.1:${gateway.port}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody(false) })
    await new Promise((r) => setTimeout(r, 1000))
    const idle = { bare: rssMb(bare.pid), gateway: rssMb(gateway.pid) }
    for (const stream of [false, true]) {
      const label = stream ? 'stream (20 chunks)' : 'non-stream'
      const options = { body: chatBody(stream), connections: CONNECTIONS, durationS: DURATION_S }
      await measure(bare, { ...options, durationS: 2 }) // warm-up: JIT, pools
      await measure(framework, { ...options, durationS: 2 })
      await measure(plugins, { ...options, durationS: 2 })
      await measure(core, { ...options, durationS: 2 })
      await measure(gateway, { ...options, durationS: 2 })
      const bares: LoadResult[] = []
      const frameworks: LoadResult[] = []
      const pluginFloors: LoadResult[] = []
      const cores: LoadResult[] = []
      const gateways: LoadResult[] = []
      for (let round = 0; round < ROUNDS; round++) {
        bares.push(await measure(bare, options))
        frameworks.push(await measure(framework, options))
        pluginFloors.push(await measure(plugins, options))
        cores.push(await measure(core, options))
        gateways.push(await measure(gateway, options))
      }
      const cpuRatios = ratiosTo(gateways, bares)
      const rpsRatios = gateways.map((g, i) => g.rps / bares[i].rps).sort((a, b) => a - b)
      const row = (name: string, runs: LoadResult[]) =>
        `| ${label} | ${name} | ${fmt(median(runs.map((r) => r.rps)))} | ${median(runs.map((r) => r.p50))} | ${median(runs.map((r) => r.p99))} | **${fmt(median(runs.map((r) => r.cpuUsPerRequest)))}** | ${runs.reduce((n, r) => n + r.failures, 0)} |`
      rows.push(row('bare undici proxy', bares), row('Fastify 5 + undici proxy (framework floor)', frameworks), row('+ the plugins tiergate uses (plugin floor)', pluginFloors), row("tiergate's core on a bare node:http route (core floor)", cores), row('tiergate', gateways))
      rows.push(`| ${label} | framework floor / bare | | | | ${ratioCell(ratiosTo(frameworks, bares))} | |`)
      rows.push(`| ${label} | plugin floor / bare | | | | ${ratioCell(ratiosTo(pluginFloors, bares))} | |`)
      rows.push(`| ${label} | core floor / bare | | | | ${ratioCell(ratiosTo(cores, bares))} | |`)
      rows.push(`| ${label} | **tiergate / bare** | ${fmt(median(rpsRatios), 2)} (${fmt(rpsRatios[0], 2)}–${fmt(rpsRatios.at(-1)!, 2)}) | | | **${fmt(median(cpuRatios), 2)}×** (${fmt(cpuRatios[0], 2)}–${fmt(cpuRatios.at(-1)!, 2)}) | |`)
    }
    const after = { bare: rssMb(bare.pid), gateway: rssMb(gateway.pid) }
    summary.push(`| RSS idle → after the loads | ${fmt(idle.bare)} → ${fmt(after.bare)} MB | ${fmt(idle.gateway)} → ${fmt(after.gateway)} MB | after: ${fmt(after.gateway / after.bare, 2)}× |`)

    for (const stream of [false, true]) {
      const body = chatBody(stream)
      const direct = await ttfbMs(origin, '/v1/chat/completions', body, TTFB_REQUESTS)
      const viaBare = await ttfbMs(`http://127.0.0.1:${bare.port}`, '/v1/chat/completions', body, TTFB_REQUESTS)
      const viaGateway = await ttfbMs(`http://127.0.0.1:${gateway.port}`, '/v1/chat/completions', body, TTFB_REQUESTS)
      summary.push(`| TTFB at c=1, ${stream ? 'stream' : 'non-stream'} (median of ${TTFB_REQUESTS}; direct ${fmt(direct, 3)} ms) | +${fmt(viaBare - direct, 3)} ms | +${fmt(viaGateway - direct, 3)} ms | +${fmt(viaGateway - viaBare, 3)} ms over bare |`)
    }
  } finally {
    await stop(gateway, core, plugins, framework, bare)
  }
}

/**
 * One gateway per feature, each alternating round by round with one plain gateway that runs
 * throughout: the features are measured minutes apart, and on a shared host a plain row taken
 * once, first, was dearer than features measured after it. What a feature adds and its ratio are
 * the medians over its rounds of the difference from and the ratio to the plain round just before
 * each; the plain row is the median of all its rounds.
 */
async function features(upstream: Server, rows: string[]): Promise<void> {
  const origin = `http://127.0.0.1:${upstream.port}`
  const [plainFeature, ...others] = FEATURES
  const plain = await startGateway({ ...PLAIN_ENV(origin), ...plainFeature.env(origin, undefined) })
  const plainOptions = { path: plainFeature.path, body: plainFeature.body, headers: plainFeature.headers, connections: CONNECTIONS }
  const plainRuns: LoadResult[] = []
  let redis: RedisServer | undefined
  try {
    const problem = await probe(plain, plainFeature)
    if (problem) throw new Error(`the plain gateway does not answer: ${problem}`)
    for (const feature of others) {
      if (feature.needsRedis && !redis) {
        try {
          redis = await startRedisServer()
        } catch (err) {
          rows.push(`| ${feature.name} | not measured: no redis-server (apt-get install redis-server): ${(err as Error).message.split('\n')[0]} | | |`)
          continue
        }
      }
      const gateway = await startGateway({ ...PLAIN_ENV(origin), ...feature.env(origin, redis?.url) })
      try {
        const problem = await probe(gateway, feature)
        if (problem) {
          rows.push(`| ${feature.name} | not measured: ${problem} | | |`)
          continue
        }
        const options = { path: feature.path, body: feature.body, headers: feature.headers, connections: CONNECTIONS }
        await measure(plain, { ...plainOptions, durationS: 2 })
        await measure(gateway, { ...options, durationS: 2 })
        const pairs: Array<{ plain: LoadResult; feature: LoadResult }> = []
        for (let round = 0; round < ROUNDS; round++) {
          const plainRun = await measure(plain, { ...plainOptions, durationS: FEATURE_DURATION_S })
          pairs.push({ plain: plainRun, feature: await measure(gateway, { ...options, durationS: FEATURE_DURATION_S }) })
          plainRuns.push(plainRun)
        }
        const cpu = median(pairs.map((p) => p.feature.cpuUsPerRequest))
        const added = median(pairs.map((p) => p.feature.cpuUsPerRequest - p.plain.cpuUsPerRequest))
        const ratios = ratiosTo(pairs.map((p) => p.feature), pairs.map((p) => p.plain))
        const failures = pairs.reduce((n, p) => n + p.feature.failures, 0)
        rows.push(`| ${feature.name} | ${fmt(cpu)} | ${fmt(added)}, ${ratioCell(ratios)} | ${fmt(median(pairs.map((p) => p.feature.rps)))} req/s${failures ? `, ${failures} failed` : ''} |`)
      } finally {
        await stop(gateway)
      }
    }
  } finally {
    await stop(plain)
    await redis?.close()
  }
  const failures = plainRuns.reduce((n, r) => n + r.failures, 0)
  rows.unshift(`| ${plainFeature.name} | ${fmt(median(plainRuns.map((r) => r.cpuUsPerRequest)))} (${plainRuns.length} rounds) | — | ${fmt(median(plainRuns.map((r) => r.rps)))} req/s${failures ? `, ${failures} failed` : ''} |`)
}

async function main() {
  const watchdog = setTimeout(() => {
    console.error('bench: watchdog fired, the run took too long')
    process.exit(1)
  }, 30 * 60_000)
  watchdog.unref()
  const upstream = await startChild('upstream.ts')
  const passRows: string[] = []
  const summary: string[] = []
  const featureRows: string[] = []
  try {
    if (ONLY !== 'features') await passThrough(upstream, passRows, summary)
    if (ONLY !== 'passthrough') await features(upstream, featureRows)
  } finally {
    await stop(upstream)
  }
  console.log(`\nconcurrency ${CONNECTIONS}, ${ROUNDS} paired rounds of ${DURATION_S} s, node ${process.version}, ${(await import('node:os')).cpus()[0]?.model ?? ''} × ${(await import('node:os')).cpus().length}\n`)
  if (passRows.length) {
    console.log('| workload | server | req/s | p50 ms | p99 ms | CPU µs/req | errors |')
    console.log('|---|---|---|---|---|---|---|')
    for (const row of passRows) console.log(row)
    console.log('\n| measure | bare undici proxy | tiergate | tiergate vs bare |')
    console.log('|---|---|---|---|')
    for (const row of summary) console.log(row)
  }
  if (featureRows.length) {
    console.log(`\nFeatures on the stream path (20 chunks, c=${CONNECTIONS}; each feature alternating with the plain gateway, ${ROUNDS} rounds of ${FEATURE_DURATION_S} s; CPU the median, the ratio the median of the paired rounds' with its range):\n`)
    console.log('| scenario | CPU µs/req | over the plain path | throughput |')
    console.log('|---|---|---|---|')
    for (const row of featureRows) console.log(row)
  }
}

await main()
