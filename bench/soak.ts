// npm run bench:soak — a steady mixed load for BENCH_SOAK_MIN minutes (default 30): streams and
// JSON answers, a session now and then, some requests failing over from a tier-1 provider that
// cuts its streams, some answered by Ollama's native API and by Anthropic's. Every minute it
// prints the gateway's RSS and V8 heap (from its /metrics): after the warm-up neither may keep
// growing. Exits 1 if the heap's last third is more than SOAK_GROWTH_LIMIT above its first third
// after warm-up. Bounded; exits by itself.
import autocannon from 'autocannon'
import { rssMb, startChild, startGateway, stop, type Server } from './lib/procs.ts'

const MINUTES = Number(process.env.BENCH_SOAK_MIN ?? 30)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20)
const WARM_UP_MIN = Math.min(3, Math.max(1, Math.floor(MINUTES / 5)))
const SOAK_GROWTH_LIMIT = 0.2

async function heapUsedMb(gateway: Server): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${gateway.port}/metrics`).then((r) => r.text(), () => '')
  const line = text.split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes'))
  return line ? Number(line.split(' ').at(-1)) / 1024 / 1024 : NaN
}

let turn = 0
function nextBody(): string {
  const n = turn++
  const stream = n % 4 !== 0
  // Every upstream dialect on the stream path: OpenAI (with a key, so every answer is scrubbed), Ollama's native NDJSON, Anthropic's SSE.
  const model = n % 5 === 0 ? 'flaky-model' : n % 7 === 1 ? 'ollama-model' : n % 7 === 3 ? 'claude-model' : 'bench-model'
  const session = n % 10 === 0 ? { session_id: `soak-${n % 200}` } : {}
  return JSON.stringify({ model, stream, ...session, messages: [{ role: 'user', content: `Request ${n % 1000}` }] })
}

async function main() {
  const upstream = await startChild('upstream.ts')
  const origin = `http://127.0.0.1:${upstream.port}`
  const gateway = await startGateway({
    CUSTOM_PROVIDERS: 'cutter,bench',
    CUTTER_BASE_URL: `${origin}/cut/v1`, CUTTER_MODELS: 'flaky-model', PROVIDER_PRIORITY_CUTTER: '1',
    BENCH_BASE_URL: `${origin}/v1`, BENCH_MODELS: 'bench-model,flaky-model', PROVIDER_PRIORITY_BENCH: '2',
    BENCH_API_KEY: 'sk-bench-soak-0123456789abcdefghij',
    PROVIDERS_DISABLED: 'gpt4all,pollinations,local',
    OLLAMA_BASE_URL: origin, OLLAMA_MODELS: 'ollama-model', OLLAMA_REMOTE_BASE_URL: '',
    ANTHROPIC_API_KEY: 'sk-ant-soak-0123456789abcdefghij', ANTHROPIC_BASE_URL: origin, ANTHROPIC_MODELS: 'claude-model',
    SESSION_MAX_MESSAGES: '20',
  })
  const watchdog = setTimeout(() => {
    console.error('bench:soak: watchdog fired')
    process.exit(1)
  }, (MINUTES + 5) * 60_000)
  watchdog.unref()
  const samples: Array<{ minute: number; rss: number; heap: number; requests: number; failures: number }> = []
  console.log(`soak: ${MINUTES} min at c=${CONNECTIONS}; warm-up ${WARM_UP_MIN} min\n`)
  console.log('| minute | requests | failed | RSS MB | heap used MB |')
  console.log('|---|---|---|---|---|')
  try {
    for (let minute = 1; minute <= MINUTES; minute++) {
      const result = await autocannon({
        url: `${`http://127.0.0.1:${gateway.port}`}/v1/chat/completions`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: nextBody() }) }],
        connections: CONNECTIONS,
        duration: 60,
      })
      const sample = { minute, rss: rssMb(gateway.pid), heap: await heapUsedMb(gateway), requests: result.requests.total, failures: result.errors + result.timeouts + result.non2xx }
      samples.push(sample)
      console.log(`| ${minute} | ${sample.requests.toLocaleString('en-US')} | ${sample.failures} | ${sample.rss.toFixed(0)} | ${sample.heap.toFixed(1)} |`)
    }
  } finally {
    await stop(gateway, upstream)
  }
  const steady = samples.filter((s) => s.minute > WARM_UP_MIN)
  if (steady.length >= 3) {
    const third = Math.max(1, Math.floor(steady.length / 3))
    const avg = (xs: typeof steady, key: 'rss' | 'heap') => xs.reduce((n, s) => n + s[key], 0) / xs.length
    const growth = avg(steady.slice(-third), 'heap') / avg(steady.slice(0, third), 'heap') - 1
    const rssGrowth = avg(steady.slice(-third), 'rss') / avg(steady.slice(0, third), 'rss') - 1
    console.log(`\nafter warm-up: heap ${(growth * 100).toFixed(1)} %, RSS ${(rssGrowth * 100).toFixed(1)} % (last third vs first third)`)
    if (growth > SOAK_GROWTH_LIMIT) {
      console.log('the heap kept growing')
      process.exitCode = 1
    }
  }
}

await main()
