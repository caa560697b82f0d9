// node bench/stream-floor.ts [seconds] — what looking at a stream's chunks costs, with no network,
// server or router: the mock upstream's 20-chunk stream (bench/lib/openai-frames.ts) handed to
// each stage as the body of one network read, as it arrives from the mock (one read per stream).
//   read           the body's reads, nothing else (the floor of any reader of the body)
//   framing        SSE events from those reads (http/sse.ts: eventsource-parser, the caps)
//   JSON.parse     framing, then every event's data through JSON.parse (a proxy that checks each chunk the plain way)
//   adapter        the OpenAI adapter's chunks (providers/openai-sse.ts: parsed, checked,
//                  normalized, tool calls indexed), read a batch at a time as the router reads them
//   + SSE body     those chunks written out by the route's SSE pump (dialects/sse-body.ts)
// The stages alternate over rounds; CPU µs per stream, median with its range. A pass-through
// proxy pays `read`; a gateway that must see every chunk (to resume a cut stream, to catch an
// error event, to count usage) pays at least `framing` and something for each chunk. Beside the
// bare proxy's µs per stream in `npm run bench`, this bounds how close a checking gateway can get.
import { Readable } from 'node:stream'
import { openAIFrames, STREAM_CHUNKS } from './lib/openai-frames.ts'
import { sseEventBatches } from '../providers/http/sse.ts'
import { openAIChunks } from '../providers/openai-sse.ts'
import { readBatch } from '../plugins/router/batch.ts'
import { sseBody } from '../dialects/sse-body.ts'
import { openAIChatEncoder } from '../dialects/openai-chat/stream.ts'
import type { BodyStream } from '../providers/http/types.ts'
import { median } from './lib/procs.ts'
import { cpuPerUnitRounds, medianRangeCell, signedDelta } from './lib/rounds.ts'

const seconds = Number(process.argv[2] ?? 1)
const ROUNDS = 7
const streamBytes = Buffer.from(openAIFrames(STREAM_CHUNKS, false).join(''))

/** A body whose whole stream is one read that has fully arrived (its end with it), as undici hands it over. */
function body(): BodyStream {
  const readable = new Readable({ read() {} })
  readable.push(streamBytes)
  readable.push(null)
  return readable as unknown as BodyStream
}
const signal = new AbortController().signal
const noRedaction = (text: string) => text

const stages: Array<[string, () => Promise<void>]> = [
  ['read', async () => {
    for await (const _read of body() as unknown as AsyncIterable<Buffer>) { /* forwarded as is */ }
  }],
  ['framing', async () => {
    for await (const _events of sseEventBatches(body(), signal)) { /* framed */ }
  }],
  ['JSON.parse', async () => {
    for await (const events of sseEventBatches(body(), signal)) {
      for (const event of events) if (event.data !== '[DONE]') JSON.parse(event.data)
    }
  }],
  ['adapter', async () => {
    const chunks = openAIChunks(body(), signal)
    while (!(await readBatch(chunks)).done) { /* checked */ }
  }],
  ['+ SSE body', async () => {
    for await (const _bytes of sseBody(openAIChunks(body(), signal), openAIChatEncoder('bench'), noRedaction)) { /* the socket's share */ }
  }],
]

/** Streams read one after another for `ms`; how many. */
async function streamsFor(stage: () => Promise<void>, ms: number): Promise<number> {
  let streams = 0
  const until = performance.now() + ms
  while (performance.now() < until) {
    for (let i = 0; i < 100; i++) await stage()
    streams += 100
  }
  return streams
}

for (const [, stage] of stages) await streamsFor(stage, 1_000) // warm-up: JIT
const perStream = await cpuPerUnitRounds(stages.map(([name, stage]) => [name, (ms) => streamsFor(stage, ms)]), ROUNDS, seconds * 1000)
console.log(`one ${STREAM_CHUNKS}-chunk stream (${streamBytes.length} bytes) per call, in one read; ${ROUNDS} alternating rounds of ${seconds} s`)
console.log('| stage | CPU µs/stream (range) | over `read` |')
console.log('|---|---|---|')
const floor = median(perStream.get('read')!)
for (const [name] of stages) {
  const values = perStream.get(name)!
  console.log(`| ${name} | ${medianRangeCell(values)} | ${name === 'read' ? '—' : signedDelta(median(values) - floor)} |`)
}
