// npm run bench:continuity — 1,000 streams through a real tiergate (`node server.ts`, its own
// process) while the primaries cut, stall, error and send malformed events mid-stream at random
// points (text and tool calls; OpenAI and Anthropic wire formats). Each stream is checked
// against its reference answer:
//   complete  [DONE], no error event, text + reasoning + tool calls byte-identical to the reference
//   honest    an error event, no [DONE], and what was delivered is a true prefix of the reference
//   wrong     anything else (must be 0: a clean end with a wrong answer, or garbage delivered)
// and reports p50/p99 of the latency a resume added (the client-side gap across the resume,
// minus TIMEOUT_IDLE_MS for stalls, which must be waited out to be detected). Only 127.0.0.1.
// Bounded in time (a watchdog ends the run); exits 1 if anything was wrong or unfinished.
import { fork, type ChildProcess } from 'node:child_process'
import { freePort } from './lib/procs.ts'
import { once } from 'node:events'
import { REFERENCES, faultPoints, promptFor, type FaultKind, type StreamSpec } from './continuity-upstreams.ts'
import { judge, percentile, readStream, type Judged } from './continuity-judge.ts'

const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50)
const SEED = Number(process.env.BENCH_SEED ?? 1)
const FAULT_SHARE = 0.7
const FALLBACK_FAILS_SHARE = 0.08
const IDLE_MS = 500
const GAP_MS = 1
const WATCHDOG_MS = 240_000
const here = new URL('.', import.meta.url).pathname

/** A small seeded PRNG (mulberry32), so a run can be repeated exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function specs(count: number, random: () => number): StreamSpec[] {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]
  const kinds: FaultKind[] = ['cut', 'stall', 'error', 'malformed']
  return Array.from({ length: count }, () => {
    const model = random() < 0.5 ? 'bench-oa' : 'bench-an'
    const reference = Math.floor(random() * REFERENCES.length)
    const spec: StreamSpec = { model, reference, style: pick(['continue', 'start-over', 'repeat-last-words'] as const), prefill: random() < 0.3 ? 'reject' : 'accept', fallbackFails: false }
    if (random() < FAULT_SHARE) {
      const points = faultPoints(spec)
      const inToolCall = points.toolArgs.length > 0 && random() < 0.5
      spec.fault = { kind: pick(kinds), after: pick(inToolCall ? points.toolArgs : points.text.slice(0, -1).length ? points.text.slice(0, -1) : points.text), inToolCall }
      spec.fallbackFails = random() < FALLBACK_FAILS_SHARE
    }
    return spec
  })
}

type UpstreamUrls = { one: string; anthropic: string; two: string }

/** The upstreams in their own process (bench/continuity-upstreams.ts --child), so clients and mocks do not share an event loop. */
async function startUpstreams(): Promise<{ child: ChildProcess; urls: UpstreamUrls }> {
  const child = fork(`${here}continuity-upstreams.ts`, ['--child'], { env: { ...process.env, BENCH_GAP_MS: String(GAP_MS) }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const [urls] = (await once(child, 'message')) as [UpstreamUrls]
  return { child, urls }
}

async function startGateway(up: UpstreamUrls): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort()
  const child = fork(`${here}../server.ts`, {
    env: {
      PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'error',
      PROVIDERS_DISABLED: 'ollama,gpt4all,pollinations', MODELS_REFRESH_MS: '0', RATE_LIMIT_MAX: '0',
      CUSTOM_PROVIDERS: 'one,two',
      ONE_BASE_URL: up.one, ONE_MODELS: 'bench-oa', PROVIDER_PRIORITY_ONE: '1',
      ANTHROPIC_API_KEY: 'sk-ant-bench', ANTHROPIC_BASE_URL: up.anthropic, ANTHROPIC_MODELS: 'bench-an', PROVIDER_PRIORITY_ANTHROPIC: '1', ANTHROPIC_PREFILL: 'on',
      TWO_BASE_URL: up.two, TWO_MODELS: 'bench-oa,bench-an', PROVIDER_PRIORITY_TWO: '2', TWO_PREFILL: 'on',
      TIMEOUT_IDLE_MS: String(IDLE_MS), TIMEOUT_FIRST_BYTE_MS: '5000', RETRY_SAME_PROVIDER: '0',
      // The primaries fail most streams on purpose: an open breaker would hide the faults from the bench.
      BREAKER_ERROR_THRESHOLD_PERCENTAGE: '100',
      SHUTDOWN_GRACE_MS: '5000',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const url = `http://127.0.0.1:${port}`
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return { child, url }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill()
  throw new Error('the gateway did not start')
}

async function main(): Promise<number> {
  const up = await startUpstreams()
  const gw = await startGateway(up.urls)
  const all = specs(STREAMS, rng(SEED))
  const results: Array<{ spec: StreamSpec; judged: Judged }> = []
  const started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < all.length) {
      const spec = all[next++]
      const reference = REFERENCES[spec.reference]
      const body = {
        model: spec.model, stream: true, messages: [{ role: 'user', content: promptFor(spec) }],
        ...(reference.toolCalls ? { tools: reference.toolCalls.map((c) => ({ type: 'function', function: { name: c.name, parameters: { type: 'object' } } })) } : {}),
        ...(spec.reference % 2 === 0 ? { stream_options: { include_usage: true } } : {}),
      }
      results.push({ spec, judged: judge(reference, await readStream(`${gw.url}/v1/chat/completions`, body)) })
    }
  }))
  const wallS = (performance.now() - started) / 1000
  gw.child.kill('SIGTERM')
  await new Promise((r) => gw.child.once('exit', r))
  up.child.send('close')
  await once(up.child, 'exit')

  const count = (f: (r: (typeof results)[number]) => boolean) => results.filter(f).length
  const faulted = results.filter((r) => r.spec.fault)
  const resumed = results.filter((r) => r.judged.resumes > 0 && r.judged.verdict === 'complete')
  const added = (kind: 'stall' | 'other') => resumed
    .filter((r) => (r.spec.fault?.kind === 'stall') === (kind === 'stall'))
    .map((r) => r.judged.resumeGapMs - (kind === 'stall' ? IDLE_MS : 0))
  const byStyle = (style: StreamSpec['style']) => {
    const gaps = resumed.filter((r) => r.spec.style === style && r.spec.fault?.kind !== 'stall').map((r) => r.judged.resumeGapMs)
    return `${style} p50 ${percentile(gaps, 50).toFixed(1)} / p99 ${percentile(gaps, 99).toFixed(1)} ms (n=${gaps.length})`
  }
  const healthyGaps = results.filter((r) => !r.spec.fault && r.judged.verdict === 'complete').map((r) => r.judged.longestGapMs)
  const strategies = results.flatMap((r) => r.judged.strategies).reduce<Record<string, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {})
  const lines = [
    `continuity bench: ${results.length} streams in ${wallS.toFixed(1)} s (concurrency ${CONCURRENCY}, seed ${SEED}); ${faulted.length} with a mid-stream fault (${count((r) => !!r.spec.fault?.inToolCall)} inside a tool call), ${count((r) => r.spec.fallbackFails)} where nothing could continue`,
    `  complete & byte-identical: ${count((r) => r.judged.verdict === 'complete')}  (faulted and completed: ${count((r) => !!r.spec.fault && r.judged.verdict === 'complete')}; resumed ${resumed.length} times by strategy ${JSON.stringify(strategies)})`,
    // Where every continuation fails too, each failing leg may still deliver a token first: near the end of an answer a few such streams still complete.
    `  honest errors:             ${count((r) => r.judged.verdict === 'honest')}  (of ${count((r) => r.spec.fallbackFails)} streams where every continuation fails too; honest errors elsewhere: ${count((r) => r.judged.verdict === 'honest' && !r.spec.fallbackFails)})`,
    `  wrong:                     ${count((r) => r.judged.verdict === 'wrong')}`,
    `  added latency of a resumed stream (cut, error, malformed): p50 ${percentile(added('other'), 50).toFixed(1)} ms, p99 ${percentile(added('other'), 99).toFixed(1)} ms (n=${added('other').length})`,
    `    by how the fallback continued: ${byStyle('continue')}; ${byStyle('repeat-last-words')}; ${byStyle('start-over')} (a start-over re-streams the delivered text before anything new)`,
    `    for scale: the longest gap between two events of a healthy stream: p50 ${percentile(healthyGaps, 50).toFixed(1)} ms, p99 ${percentile(healthyGaps, 99).toFixed(1)} ms (n=${healthyGaps.length})`,
    `  added latency of a resumed stall, beyond TIMEOUT_IDLE_MS=${IDLE_MS}: p50 ${percentile(added('stall'), 50).toFixed(1)} ms, p99 ${percentile(added('stall'), 99).toFixed(1)} ms (n=${added('stall').length})`,
  ]
  console.log(lines.join('\n'))
  for (const r of results.filter((r) => r.judged.verdict === 'wrong').slice(0, 5)) console.log(`  WRONG ${JSON.stringify(r.spec)}: ${r.judged.why}`)
  if (process.env.BENCH_DEBUG) for (const r of results.filter((r) => r.spec.fallbackFails && r.judged.verdict === 'complete')) console.log(`  completed although nothing should continue: ${JSON.stringify(r.spec)} resumes=${r.judged.resumes}`)
  return count((r) => r.judged.verdict === 'wrong') === 0 && results.length === STREAMS ? 0 : 1
}

const watchdog = setTimeout(() => {
  console.error(`bench:continuity did not finish within ${WATCHDOG_MS} ms`)
  process.exit(2)
}, WATCHDOG_MS)
watchdog.unref()
main().then((code) => process.exit(code), (err) => {
  console.error(err)
  process.exit(1)
})
