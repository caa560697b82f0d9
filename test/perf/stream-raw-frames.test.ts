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
