// When the upstream's bytes are forwarded as they came (RAW_FRAMES, issue 14) and when they are
// not. The output is meant to be byte-identical either way, so the gateway-level tests
// (stream-batch.test.ts) cannot tell the two paths apart; these give the batch a marked copy of
// the bytes and watch which one reaches the client.
import t from 'tap'
import { Readable } from 'node:stream'
import { RAW_FRAMES, RAW_JSON, STREAM_NOTE, type ChatChunk, type ChunkBatch } from '../../providers/contract.ts'
import { openAIChunks } from '../../providers/openai-sse.ts'
import { sseBody, type SseEncoder } from '../../dialects/sse-body.ts'
import { openAIChatEncoder } from '../../dialects/openai-chat/stream.ts'
import { SecretMatcher, scrubStream } from '../../plugins/scrub-content.ts'

const event = (content: string, finish: string | null = null) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })
const frames = (...data: string[]) => data.map((d) => `data: ${d}\n\n`).join('')

/** The first batch openAIChunks hands out for an upstream body that arrives in one read. */
async function firstBatch(text: string): Promise<ChunkBatch> {
  const body = Readable.from([Buffer.from(text)]) as never
  const chunks = openAIChunks(body, new AbortController().signal)
  const next = await chunks.nextBatch()
  await chunks.return?.()
  if (next.done) throw new Error('no batch')
  return next.value as ChunkBatch
}

const cases: Array<{ name: string; read: string; bytes: string | undefined }> = [
  { name: 'plain events: the read itself', read: frames(event('a'), event('b')), bytes: frames(event('a'), event('b')) },
  { name: '[DONE] at the end of the read: the read without it', read: frames(event('a'), event('', 'stop'), '[DONE]'), bytes: frames(event('a'), event('', 'stop')) },
  { name: 'a comment in the read: none', read: `: keep-alive\n\n${frames(event('a'))}`, bytes: undefined },
  { name: 'CRLF line ends: none', read: `data: ${event('a')}\r\n\r\n`, bytes: undefined },
  { name: 'an event rewritten on the way (reasoning → reasoning_content): none', read: frames(event('a'), JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { reasoning: 'r' }, finish_reason: null }] })), bytes: undefined },
  { name: 'an event with its own name: none', read: `event: message\n${frames(event('a'))}`, bytes: undefined },
]

for (const c of cases) {
  t.test(`openAIChunks: ${c.name}`, async (t) => {
    const batch = await firstBatch(c.read)
    t.equal(batch[RAW_FRAMES] === undefined ? undefined : Buffer.from(batch[RAW_FRAMES]!).toString(), c.bytes)
  })
}

async function written(batch: ChunkBatch, encoder: SseEncoder): Promise<string> {
  let given = false
  const source = { next: async () => (given ? { done: true as const, value: undefined } : { done: false as const, value: batch[0] }), nextBatch: async () => { if (given) return { done: true as const, value: undefined }; given = true; return { done: false as const, value: batch } }, [Symbol.asyncIterator]() { return this } }
  let out = ''
  for await (const part of sseBody(source as never, encoder, (s) => s)) out += part
  return out
}

/** A batch whose RAW_FRAMES differ from what the encoder would write: which one was sent shows. */
function markedBatch(): ChunkBatch {
  const data = event('a')
  const chunk = JSON.parse(data) as ChatChunk
  chunk[RAW_JSON] = data
  const batch: ChunkBatch = [chunk]
  batch[RAW_FRAMES] = Buffer.from('data: {"the":"upstream bytes"}\n\n')
  return batch
}

t.test('sseBody: a batch with its upstream bytes and an encoder that writes chunks as those bytes: the bytes go out', async (t) => {
  t.equal(await written(markedBatch(), openAIChatEncoder('p')), 'data: {"the":"upstream bytes"}\n\ndata: [DONE]\n\n')
})

t.test('sseBody: a chunk with a note, or an encoder that does not say rawFrames: the frames are written', async (t) => {
  const noted = markedBatch()
  noted[0][STREAM_NOTE] = 'resumed'
  t.equal(await written(noted, openAIChatEncoder('p')), `: resumed\n\ndata: ${event('a')}\n\ndata: [DONE]\n\n`)
  const { rawFrames: _, ...other } = openAIChatEncoder('p')
  t.equal(await written(markedBatch(), other), `data: ${event('a')}\n\ndata: [DONE]\n\n`)
})

/** A source of the batch protocol that hands out `batches` in turn. */
function batchSource(batches: ChunkBatch[]) {
  let i = 0
  let closed = false
  const source = {
    next: async () => { throw new Error('read chunk by chunk') },
    nextBatch: async () => (i < batches.length ? { done: false as const, value: batches[i++] } : { done: true as const, value: undefined }),
    return: async () => { closed = true; return { done: true as const, value: undefined } },
    [Symbol.asyncIterator]() { return this },
  }
  return { source, closed: () => closed }
}

const SECRET = 'sk-test-0123456789abcdef'

t.test('scrubStream: a batch that passes the scrubber as it came goes on as the same array, its upstream bytes with it', async (t) => {
  const batch = markedBatch()
  const { source } = batchSource([batch])
  const stream = scrubStream(new SecretMatcher([SECRET]), source as never, () => undefined)
  const first = await stream.nextBatch()
  t.equal(first.value, batch, 'the very batch')
  t.ok((first.value as ChunkBatch)[RAW_FRAMES], 'with its RAW_FRAMES')
  t.equal(await written(batch, openAIChatEncoder('p')), 'data: {"the":"upstream bytes"}\n\ndata: [DONE]\n\n', 'so the bytes are what is written')
  t.same(await stream.nextBatch(), { done: true, value: undefined })
})

t.test('scrubStream: a batch with the key in it: a new array, the key masked, the other chunks the same objects', async (t) => {
  const chunks = [event('a'), event(`x ${SECRET} y`), event('b')].map((data) => Object.assign(JSON.parse(data) as ChatChunk, { [RAW_JSON]: data }))
  const batch: ChunkBatch = [...chunks]
  batch[RAW_FRAMES] = Buffer.from('bytes')
  let scrubbed = 0
  const { source } = batchSource([batch])
  const stream = scrubStream(new SecretMatcher([SECRET]), source as never, (count) => (scrubbed += count))
  const out = (await stream.nextBatch()).value as ChunkBatch
  t.not(out, batch, 'a new array')
  t.equal(out[RAW_FRAMES], undefined, 'without the upstream bytes')
  t.equal(out[0], chunks[0], 'the chunk before the key as it came')
  t.equal(out[2], chunks[2], 'the chunk after it as it came')
  t.equal(out[1].choices[0].delta.content, 'x [REDACTED] y', 'the key masked')
  t.equal(out[1][RAW_JSON], undefined, 'and that chunk without its upstream text')
  t.equal(scrubbed, 1, 'one occurrence counted')
})

t.test('scrubStream: next() and nextBatch() on one stream hand out every chunk once, in order, and a held tail at the end', async (t) => {
  const chunk = (text: string) => JSON.parse(event(text)) as ChatChunk
  // The second batch ends with the start of the key: held, then released by the end of the stream.
  const { source } = batchSource([[chunk('a'), chunk('b'), chunk('c')], [chunk('d'), chunk(`e ${SECRET.slice(0, 6)}`)]])
  const stream = scrubStream(new SecretMatcher([SECRET]), source as never, () => undefined)
  const texts: string[] = []
  const take = (c: ChatChunk) => texts.push(c.choices[0]?.delta.content ?? '')
  const one = await stream.next()
  take(one.value as ChatChunk)
  for (const c of (await stream.nextBatch()).value as ChatChunk[]) take(c)
  for (;;) {
    const next = await stream.next()
    if (next.done) break
    take(next.value)
  }
  t.same(texts, ['a', 'b', 'c', 'd', 'e ', SECRET.slice(0, 6)], 'each chunk once, the held start of the key released last')
})

t.test('scrubStream: return() closes its source', async (t) => {
  const { source, closed } = batchSource([markedBatch(), markedBatch()])
  const stream = scrubStream(new SecretMatcher([SECRET]), source as never, () => undefined)
  await stream.nextBatch()
  await stream.return(undefined)
  t.ok(closed(), 'the source was closed')
  t.same(await stream.nextBatch(), { done: true, value: undefined }, 'and nothing more comes')
})

t.test('scrubStream: a chunk it cannot read fails the stream and closes its source (its upstream request is not left open)', async (t) => {
  const broken = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: null } as unknown as ChatChunk
  const { source, closed } = batchSource([[broken]])
  const stream = scrubStream(new SecretMatcher([SECRET]), source as never, () => undefined)
  await t.rejects(stream.nextBatch(), TypeError)
  t.ok(closed(), 'the source was closed')
})
