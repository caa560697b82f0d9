// A translated stream's text chunks carry their own JSON text (providers/text-chunk.ts, issue
// 14): it must be exactly what JSON.stringify writes for the chunk, whatever the id, model and
// text, since the SSE writer sends it in place of the chunk and the secret scrubber reads it in
// place of the chunk's fields. A native Anthropic stream's chunks carry the upstream's events
// instead, and those are what goes out: they get no JSON text of their own.
import t, { type Test } from 'tap'
import { Readable } from 'node:stream'
import { NATIVE_WIRE, RAW_JSON, type ChatChunk } from '../../providers/contract.ts'
import { TextChunks } from '../../providers/text-chunk.ts'
import { ndjsonBatches } from '../../providers/http/ndjson.ts'
import { ollamaChunks, type OllamaChatLine } from '../../providers/ollama/translate.ts'
import { AnthropicStreamTranslator, anthropicChunks } from '../../providers/anthropic/stream.ts'

const TEXTS = ['Hello', ' ', 'say "hi"', 'back\\slash', 'line\nbreak\r\ttab', '\u0000\u001f', 'é ü 漢字 😀', '\ud800 lone', '</script>', 'a'.repeat(2000)]

/** Every chunk with a JSON text of its own has exactly its serialization; returns how many had one. */
function checkJsonTexts(t: Test, chunks: ChatChunk[], what: string): number {
  let with_ = 0
  for (const chunk of chunks) {
    const text = chunk[RAW_JSON]
    if (text === undefined) continue
    with_++
    if (text !== JSON.stringify(chunk)) t.fail(`${what}: ${text.slice(0, 120)} is not ${JSON.stringify(chunk).slice(0, 120)}`)
  }
  return with_
}

/** The chunks' values as JSON would carry them, symbols left out. */
const values = (chunks: ChatChunk[]) => JSON.parse(JSON.stringify(chunks))

t.test('TextChunks: the JSON text is the chunk serialized, whatever the id, created, model and text', async (t) => {
  const texts = new TextChunks()
  const chunks: ChatChunk[] = []
  for (const id of ['msg_01', 'chatcmpl-"odd"\\id', '']) {
    for (const created of [1726012687, 0, Number.NaN]) {
      for (const model of ['claude-sonnet-4', 'mödel/ü', '']) {
        for (const text of TEXTS) {
          chunks.push(texts.chunk(id, created, model, 'content', text), texts.chunk(id, created, model, 'reasoning_content', text))
        }
      }
    }
  }
  t.equal(checkJsonTexts(t, chunks, 'TextChunks'), chunks.length, 'every chunk has its JSON text')
  t.same(chunks[1].choices[0].delta, { reasoning_content: 'Hello' })
})

const event = (type: string, data: object) => ({ event: type, data: JSON.stringify({ type, ...data }) })
const anthropicEvents = [
  event('message_start', { message: { id: 'msg_"1"', model: 'claude-ü', usage: { input_tokens: 3 } } }),
  event('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: 'hmm "so"' } }),
  event('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'more\nthought' } }),
  event('content_block_start', { index: 1, content_block: { type: 'text', text: 'Start ' } }),
  ...TEXTS.map((text) => event('content_block_delta', { index: 1, delta: { type: 'text_delta', text } })),
  event('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 42 } }),
  event('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }),
  event('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } }),
  event('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }),
  event('message_stop', {}),
]

t.test('Anthropic: text and thinking chunks carry their serialization; the rest of the stream is as it was', async (t) => {
  const translate = (options: { withJsonText: boolean }) => {
    const translator = new AnthropicStreamTranslator(true, 1726012687000, options)
    return anthropicEvents.flatMap((e) => translator.push(JSON.parse(e.data).type, JSON.parse(e.data)))
  }
  const templated = translate({ withJsonText: true })
  const plain = translate({ withJsonText: false })
  t.equal(checkJsonTexts(t, templated, 'anthropic'), 2 + 1 + TEXTS.length, 'each thinking and text token has its JSON text (not the role, tool, finish or usage chunks, nor a non-string text)')
  t.equal(plain.filter((c) => c[RAW_JSON] !== undefined).length, 0, 'without it, none has')
  t.same(values(templated), values(plain), 'the chunks themselves are the same either way')
  t.equal(templated.find((c) => (c.choices[0]?.delta.content as unknown) === 42)?.[RAW_JSON], undefined, 'a hostile non-string text passes as it did, with no JSON text')
})

t.test('Anthropic native stream (a Messages client): chunks carry the upstream events only, no JSON text of their own', async (t) => {
  const sse = anthropicEvents.map((e) => `event: ${e.event}\ndata: ${e.data}\n\n`).join('')
  for (const native of [true, false]) {
    const chunks: ChatChunk[] = []
    for await (const chunk of anthropicChunks(Readable.from([Buffer.from(sse)]) as never, new AbortController().signal, false, native)) chunks.push(chunk)
    const withText = checkJsonTexts(t, chunks, `native ${native}`)
    if (native) {
      t.equal(withText, 0, 'native: the scrubber and the writer read the upstream events (NATIVE_WIRE), nothing else')
      t.ok(chunks.every((c) => c[NATIVE_WIRE] !== undefined))
    } else {
      t.ok(withText > TEXTS.length, `translated: ${withText} chunks with their JSON text`)
    }
  }
})

t.test('Ollama: a line of one text or one thinking carries its serialization; every other line is as it was', async (t) => {
  const at = '2025-10-26T17:15:24.097767Z'
  const lines: object[] = [
    { model: 'llama3.2', created_at: at, message: { role: 'assistant', content: 'first' }, done: false },
    ...TEXTS.map((content) => ({ model: 'llama3.2', created_at: at, message: { role: 'assistant', content }, done: false })),
    { model: 'llama3.2', created_at: at, message: { role: 'assistant', content: '', thinking: 'think "deep"' }, done: false },
    { model: 'llama3.2', created_at: at, message: { role: 'assistant', content: 'both', thinking: 'and this' }, done: false },
    { model: 'llama3.2', created_at: at, message: { role: 'assistant', content: 'x', thinking: 7 }, done: false },
    { model: 'llama3.2', created_at: at, message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] }, done: false },
    { model: 'llama3.2', created_at: at, message: { role: 'assistant', content: 'last' }, done: true, done_reason: 'stop', prompt_eval_count: 3, eval_count: 4 },
  ]
  const ndjson = lines.map((l) => `${JSON.stringify(l)}\n`).join('')
  const chunks: ChatChunk[] = []
  for await (const chunk of ollamaChunks(ndjsonBatches<OllamaChatLine>(Readable.from([Buffer.from(ndjson)]) as never), true)) chunks.push(chunk)
  t.equal(checkJsonTexts(t, chunks, 'ollama'), TEXTS.length + 1, 'each one-text line but the first and the done line, and the thinking line')
  t.equal(chunks[0][RAW_JSON], undefined, 'the first line (with the role) goes the general way')
  t.same(chunks.map((c) => c.choices[0]?.delta ?? 'usage'), [
    { role: 'assistant', content: 'first' },
    ...TEXTS.map((content) => ({ content })),
    { reasoning_content: 'think "deep"' },
    { reasoning_content: 'and this', content: 'both' },
    { reasoning_content: 7, content: 'x' },
    { tool_calls: [{ index: 0, id: chunks.find((c) => c.choices[0]?.delta.tool_calls)!.choices[0].delta.tool_calls![0].id, type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
    { content: 'last' },
    {},
    'usage',
  ], 'the deltas, in order, as before')
})
