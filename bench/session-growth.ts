// Session growth (issue 9 item 14): a client that sends a NEW system prompt on every turn of
// one session. Before the fix every prompt was kept forever (trimming spared instructions), so
// each turn cost more than the last and the event loop stalled; now the session is bounded by
// SESSION_MAX_MESSAGES and SESSION_MAX_BYTES. Reports, per block of turns: messages stored,
// bytes stored, turn latency and the event-loop delay (perf_hooks.monitorEventLoopDelay) of
// the gateway, which runs in this process. `node bench/session-growth.ts [turns] [redis-url]`.
// Not part of `npm test`; nothing here is asserted.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { randomUUID } from 'node:crypto'
import { startOpenAIMock } from '../test/mocks/openai.ts'
import { startGateway, postJson } from '../test/helpers/gateway.ts'

const TURNS = Number(process.argv[2] ?? 4000)
const REDIS_URL = process.argv[3]
const BLOCK = Math.max(1, Math.floor(TURNS / 8))
/** Each system prompt this long: a realistic instruction block. */
const PROMPT_CHARS = 400

const mock = await startOpenAIMock({ models: ['m'] })
mock.fallback = { content: 'ok' }
const gw = await startGateway({ CUSTOM_PROVIDERS: 'p', P_BASE_URL: mock.baseUrl, P_MODELS: 'm', RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn', ...(REDIS_URL ? { REDIS_URL } : {}) })
const session = randomUUID()
const histogram = monitorEventLoopDelay({ resolution: 5 })

console.log(`${TURNS} turns, one new ${PROMPT_CHARS}-char system prompt each, store ${REDIS_URL ? 'redis' : 'memory'}, defaults SESSION_MAX_MESSAGES=${gw.app.config.sessions.maxMessages} SESSION_MAX_BYTES=${gw.app.config.sessions.maxBytes ?? 'n/a'}`)
console.log('turns       stored msgs  stored KB  last turn ms  loop delay max ms  p99 ms')
let worstStallMs = 0
for (let block = 0; block < TURNS / BLOCK; block++) {
  histogram.reset()
  histogram.enable()
  let last = 0
  for (let i = 0; i < BLOCK; i++) {
    const turn = block * BLOCK + i
    const started = performance.now()
    const res = await postJson(`${gw.url}/v1/chat/completions`, {
      model: 'm', session_id: session,
      messages: [{ role: 'system', content: `Instruction set #${turn}: ${'x'.repeat(PROMPT_CHARS)}` }, { role: 'user', content: `turn ${turn}` }],
    })
    if (res.status !== 200) throw new Error(`turn ${turn}: HTTP ${res.status} ${res.text.slice(0, 200)}`)
    last = performance.now() - started
  }
  histogram.disable()
  const stored = (await (await fetch(`${gw.url}/sessions/${session}`)).json() as { messages: unknown[] }).messages
  const maxMs = histogram.max / 1e6
  worstStallMs = Math.max(worstStallMs, maxMs)
  console.log(`${String((block + 1) * BLOCK).padEnd(12)}${String(stored.length).padEnd(13)}${String(Math.round(JSON.stringify(stored).length / 1024)).padEnd(11)}${last.toFixed(1).padEnd(14)}${maxMs.toFixed(1).padEnd(19)}${(histogram.percentile(99) / 1e6).toFixed(1)}`)
}
console.log(`worst event-loop stall: ${worstStallMs.toFixed(1)} ms`)
await gw.close()
await mock.close()
