// node bench/layers.ts [json|stream] [seconds] [layer,…] — tiergate's own path taken apart, layer by layer,
// in one process with no HTTP server in front (the mock upstream in its own process, as in
// bench/in-process.ts). Each layer adds one part of what a request goes through:
//   undici     the same request from a bare undici Pool, its answer parsed (the floor of any client)
//   adapter    the provider's `chat` (transport, the upstream-limits checks, the answer's checks)
//   + attempt  that inside an Attempt (its AbortController, timers, the client signal's listener)
//              and the provider's two breakers, as a dispatch attempt runs it
//   router     app.router.chat: candidates, the dispatch loop, events and metrics, resume accounting
//   pipeline   app.chat: the session and cache stages in front (both off, as by default)
// The layers alternate over rounds (50 calls at a time); CPU µs per call, median with its range.
// Differences between neighbouring rows are what a layer costs; on a noisy host only
// differences well beyond the ranges mean anything. Naming layers (`adapter,router`) runs only
// those: under `node --cpu-prof`, a profile of one layer (bench/README.md's recipe).
import { Pool } from 'undici'
import { callsFor, startInProcessGateway } from './in-process-gateway.ts'
import { median } from './lib/procs.ts'
import { cpuPerUnitRounds, medianRangeCell, signedDelta } from './lib/rounds.ts'
import { Attempt } from '../plugins/router/attempt.ts'
import { isStream, type CallContext, type ChatChunk, type ChatRequest } from '../providers/contract.ts'
import { sseBody } from '../dialects/sse-body.ts'
import { openAIChatEncoder } from '../dialects/openai-chat/stream.ts'

const stream = (process.argv[2] ?? 'json') === 'stream'
const seconds = Number(process.argv[3] ?? 2)
const ROUNDS = 5
const CONCURRENCY = 50

const gateway = await startInProcessGateway(stream)
const { app } = gateway
const entry = app.providers.list()[0]
/** The provider's own limits, as a dispatch attempt hands them to the adapter. */
const timeouts = entry.settings.timeouts
const pool = new Pool(`http://127.0.0.1:${gateway.upstreamPort}`, { connections: 2_048 })
const upstreamBody = JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })
const chatRequest = (): ChatRequest => ({ model: 'bench-model', stream, messages: [{ role: 'user', content: 'Say hello.' }] })
const noRedaction = (text: string) => text

/** What the route would do with an answer: serialize a completion, or write every SSE byte. */
async function consume(result: unknown, provider: string): Promise<void> {
  if (!isStream(result as never)) return void JSON.stringify(result)
  for await (const _bytes of sseBody(result as AsyncGenerator<ChatChunk>, openAIChatEncoder(provider), noRedaction)) { /* the socket's share */ }
}
const context = (signal: AbortSignal): CallContext => ({ signal, log: app.log, requestId: '1', apiKey: undefined, timeouts })

const allLayers: Array<[string, () => Promise<void>]> = [
  ['undici', async () => {
    const answer = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body: upstreamBody })
    if (!stream) return void JSON.stringify(await answer.body.json())
    for await (const _chunk of answer.body) { /* forwarded as is */ }
  }],
  ['adapter', async () => {
    const client = new AbortController()
    await consume(await entry.provider.chat(chatRequest(), context(client.signal)), entry.name)
  }],
  ['+ attempt and breakers', async () => {
    const client = new AbortController()
    const attempt = new Attempt(client.signal, timeouts.totalMs)
    try {
      await consume(await entry.breakers.fire('bench-model', () => entry.provider.chat(chatRequest(), context(attempt.signal))), entry.name)
    } finally {
      attempt.release()
    }
  }],
  ['router', async () => {
    const routed = await app.router.chat(chatRequest(), { signal: new AbortController().signal, log: app.log, requestId: '1' })
    await consume(routed.value, routed.provider)
  }],
  ['pipeline', async () => {
    const routed = await app.chat(chatRequest(), { signal: new AbortController().signal, log: app.log, requestId: '1' })
    await consume(routed.value, routed.provider)
  }],
]

const only = process.argv[4]?.split(',')
const layers = only ? allLayers.filter(([name]) => only.includes(name)) : allLayers

const run = (call: () => Promise<void>, ms: number) => callsFor(call, ms, CONCURRENCY)

for (const [, call] of layers) await run(call, 1_500) // warm-up: JIT, pools
const perCall = await cpuPerUnitRounds(layers.map(([name, call]) => [name, (ms) => run(call, ms)]), ROUNDS, seconds * 1000)
console.log(`${stream ? 'stream (20 chunks)' : 'non-stream'}, ${CONCURRENCY} at a time, ${ROUNDS} alternating rounds of ${seconds} s`)
console.log('| layer | CPU µs/call (range) | over the row above |')
console.log('|---|---|---|')
let previous: number | undefined
for (const [name] of layers) {
  const values = perCall.get(name)!
  console.log(`| ${name} | ${medianRangeCell(values)} | ${previous === undefined ? '—' : signedDelta(median(values) - previous)} |`)
  previous = median(values)
}
await pool.close()
await gateway.close()
