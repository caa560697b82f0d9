// Ollama's NDJSON and Anthropic's SSE streams in the batch protocol (providers/translated-stream.ts,
// issue 14): the items of one network read become one batch of chunks, in order; what came
// before a failing item comes before its failure; a stream that ends early is cut; an early
// return closes the framing. Each adapter's translation itself is covered by its provider tests.
import t from 'tap'
import { Readable } from 'node:stream'
import type { BatchIterator, ChatChunk } from '../../providers/contract.ts'
import { ndjsonBatches } from '../../providers/http/ndjson.ts'
import { ollamaChunks, type OllamaChatLine } from '../../providers/ollama/translate.ts'
import { anthropicChunks } from '../../providers/anthropic/stream.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

type Chunks = AsyncIterableIterator<ChatChunk> & BatchIterator<ChatChunk>

/** A body that arrives in these reads. */
const body = (...reads: string[]) => Readable.from(reads.map((r) => Buffer.from(r)), { objectMode: false }) as never

const at = '2025-10-26T17:15:24.097767Z'
const line = (content: string) => `${JSON.stringify({ model: 'm', created_at: at, message: { role: 'assistant', content }, done: false })}\n`
const done = `${JSON.stringify({ model: 'm', created_at: at, message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', prompt_eval_count: 3, eval_count: 4 })}\n`
const ollama = (b: never, usage = false): Chunks => ollamaChunks(ndjsonBatches<OllamaChatLine>(b), usage)

const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
const start = event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } }) +
  event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
const text = (s: string) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: s } })
const stop = event('content_block_stop', { index: 0 }) + event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } }) + event('message_stop', {})
const anthropic = (b: never): Chunks => anthropicChunks(b, new AbortController().signal, false)

const contentOf = (chunks: ChatChunk[]) => chunks.map((c) => c.choices[0]?.delta.content ?? `<${c.choices[0]?.finish_reason ?? 'none'}>`)

/** Every batch until the end, or the failure that ended it. */
async function batches(chunks: Chunks): Promise<{ batches: string[][]; error?: unknown }> {
  const out: string[][] = []
  try {
    for (;;) {
      const next = await chunks.nextBatch()
      if (next.done) return { batches: out }
      out.push(contentOf(next.value))
    }
  } catch (error) {
    return { batches: out, error }
  }
}

t.test('ndjsonBatches: the lines of one read as one array, a line split across reads whole in the later one', async (t) => {
  const got: unknown[][] = []
  for await (const batch of ndjsonBatches<{ n: number }>(body('{"n":1}\n{"n":2}\n{"n"', ':3}\n'))) got.push(batch.map((o) => o.n))
  t.same(got, [[1, 2], [3]])
})

t.test('ndjsonBatches: a malformed line after good ones in the same read: the good ones first, then the failure', async (t) => {
  const got: unknown[][] = []
  const error = await (async () => {
    for await (const batch of ndjsonBatches<{ n: number }>(body('{"n":1}\n{"n":2}\nnot json\n{"n":4}\n'))) got.push(batch.map((o) => o.n))
  })().catch((e) => e)
  t.same(got, [[1, 2]])
  t.match(error, { kind: 'malformed', message: /malformed NDJSON line/ })
})

for (const [name, make, reads, expected] of [
  // Ollama's first token carries the role; Anthropic's role chunk comes before its first token.
  ['Ollama', ollama, [line('a') + line('b') + line('c'), line('d') + done], [['a', 'b', 'c'], ['d', '<stop>']]],
  ['Anthropic', anthropic, [start + text('a') + text('b') + text('c'), text('d') + stop], [['', 'a', 'b', 'c'], ['d', '<stop>']]],
] as const) {
  t.test(`${name}: the tokens of one read come as one batch, in order, and the stream ends at its last item`, async (t) => {
    const got = await batches(make(body(...reads)))
    t.same(got, { batches: expected })
  })
}

t.test('Ollama: an error line in the middle of a read: the chunks before it first, then the failure', async (t) => {
  const got = await batches(ollama(body(line('a') + line('b') + `${JSON.stringify({ error: 'model crashed' })}\n` + line('c'))))
  t.same(got.batches, [['a', 'b']], 'the chunks before the error line')
  t.match(got.error, { kind: 'stream_error', message: /model crashed/ })
})

t.test('Anthropic: an error event in the middle of a read: the chunks before it first, then the failure', async (t) => {
  const got = await batches(anthropic(body(start + text('a') + event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }) + text('b'))))
  t.same(got.batches, [['', 'a']], 'the chunks before the error event')
  t.match(got.error, { kind: 'overloaded' })
})

for (const [name, make, reads, cut, before] of [
  ['Ollama', ollama, [line('a'), line('b')], /before its done line/, [['a'], ['b']]],
  ['Anthropic', anthropic, [start + text('a'), text('b')], /before message_stop/, [['', 'a'], ['b']]],
] as const) {
  t.test(`${name}: a stream that ends before its last item is cut: its chunks, then a malformed failure`, async (t) => {
    const got = await batches(make(body(...reads)))
    t.same(got.batches, before)
    t.ok(got.error instanceof UpstreamError && got.error.kind === 'malformed' && cut.test(got.error.message), 'cut')
  })
}

t.test('next() and nextBatch() on one stream: every chunk once, in order', async (t) => {
  const chunks = ollama(body(line('a') + line('b') + line('c'), line('d') + done), true)
  const seen: string[] = []
  const one = await chunks.next()
  seen.push(...contentOf([one.value as ChatChunk]))
  const rest = await chunks.nextBatch()
  seen.push(...contentOf(rest.value as ChatChunk[]))
  for (;;) {
    const next = await chunks.next()
    if (next.done) break
    seen.push(...contentOf([next.value]))
  }
  t.same(seen, ['a', 'b', 'c', 'd', '<stop>', '<none>'], 'the usage chunk (choices: []) last')
})

t.test('return() closes the framing: the body is destroyed', async (t) => {
  const b = body(line('a'), line('b'), done) as unknown as Readable
  const chunks = ollama(b as never)
  await chunks.nextBatch()
  await chunks.return!()
  t.ok(b.destroyed, 'the upstream body is destroyed (its socket freed)')
  t.same(await chunks.nextBatch(), { done: true, value: undefined }, 'and nothing more comes')
})

t.test('Ollama: a done line whose body has already arrived whole is read to its end, not destroyed (no abort error per stream)', async (t) => {
  // undici builds an abort error, stack trace and all, for a body destroyed before its end was read.
  const b = new Readable({ read() {} })
  b.push(Buffer.from(line('a') + line('b') + done))
  b.push(null) // its end has arrived too
  const chunks = ollama(b as never)
  const got = await batches(chunks)
  t.same(got, { batches: [['a', 'b', '<stop>']] })
  t.ok(b.readableEnded, 'the body was read to its end')
})

t.test('Ollama: a done line before the body has arrived whole: the body is destroyed at once (its socket freed)', async (t) => {
  const b = new Readable({ read() {} })
  b.push(Buffer.from(line('a') + done))
  const chunks = ollama(b as never)
  t.same(await batches(chunks), { batches: [['a', '<stop>']] })
  t.ok(b.destroyed && !b.readableEnded, 'destroyed without waiting for an end that has not come')
})
