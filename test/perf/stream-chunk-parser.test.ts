// StreamChunkParser (providers/openai-sse.ts, issue 14): chunks built from a learned chunk of
// the same shape instead of parsed must be exactly what JSON.parse gives — same values, same
// key order, nothing shared between chunks — and whatever JSON.parse rejects is still rejected.
import t, { type Test } from 'tap'
import { Readable } from 'node:stream'
import { RAW_JSON } from '../../providers/contract.ts'
import { StreamChunkParser, openAIChunks } from '../../providers/openai-sse.ts'

const chunk = (delta: object, extra: object = {}) => JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1726012687, model: 'm', ...extra, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }], usage: null })

/** Parses every data in turn with one parser (one stream) and checks each result against JSON.parse. */
function sameAsJsonParse(t: Test, datas: string[]): void {
  const parser = new StreamChunkParser()
  for (const data of datas) {
    let expected: unknown
    let failure: unknown
    try {
      expected = JSON.parse(data)
    } catch (err) {
      failure = err
    }
    if (failure !== undefined) {
      t.throws(() => parser.parse(data), SyntaxError, `rejected like JSON.parse: ${data}`)
      continue
    }
    const got = parser.parse(data)
    t.strictSame(got, expected, data)
    t.equal(JSON.stringify(got), JSON.stringify(expected), `key order: ${data}`)
  }
}

t.test('text chunks after a learned one: the same objects as JSON.parse', async (t) => {
  const texts = ['Hello', ' world', '', 'é ü 漢字 😀', 'a'.repeat(500), ' 1 ', '{not json}', 'tiergate:slot', 'with :, [] {}']
  sameAsJsonParse(t, [chunk({ role: 'assistant', content: '' }), ...texts.map((text) => chunk({ content: text }))])
})

t.test('texts that need escapes (quote, backslash, control characters, a lone surrogate) are parsed, not built', async (t) => {
  const texts = ['say "hi"', 'back\\slash', 'line\nbreak', 'tab\t', '\u0001', '\ud800', 'after']
  sameAsJsonParse(t, [chunk({ content: 'first' }), ...texts.map((text) => chunk({ content: text }))])
})

t.test('raw control characters and broken text after a learned prefix are still rejected', async (t) => {
  const learned = chunk({ content: 'x' })
  const [prefix, suffix] = learned.split('"content":"x"')
  sameAsJsonParse(t, [
    learned,
    `${prefix}"content":"raw\nnewline"${suffix}`,
    `${prefix}"content":"raw\ttab"${suffix}`,
    `${prefix}"content":"x"${suffix}garbage`,
    `${prefix}"content":"y"${suffix}`,
    `${prefix}"content":"unterminated`,
    `${prefix}"content":"a","content":"b"${suffix}`,
  ])
})

t.test('other shapes: reasoning, tool calls, usage objects, several choices, non-canonical text', async (t) => {
  sameAsJsonParse(t, [
    chunk({ reasoning_content: 'think' }),
    chunk({ reasoning_content: 'more' }),
    chunk({ content: 'answer' }),
    chunk({ content: 'more answer' }),
    chunk({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }),
    chunk({ content: 'u' }, { usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }),
    chunk({ content: 'v' }, { usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } }),
    JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: 'a' } }, { index: 1, delta: { content: 'b' } }] }),
    JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: 'a' } }, { index: 1, delta: { content: 'c' } }] }),
    JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: 'spaced' } }] }, null, 1),
    JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: 'spaced again' } }] }, null, 1),
    '{"id":"c","created":1e3,"choices":[{"index":0,"delta":{"content":"exp"}}]}',
    '{"id":"c","created":1e3,"choices":[{"index":0,"delta":{"content":"exp2"}}]}',
    '{"id":"c","created":-0,"choices":[{"index":0,"delta":{"content":"neg"}}]}',
    '{"id":"c","created":-0,"choices":[{"index":0,"delta":{"content":"neg2"}}]}',
    '{"id":"c\\u0041","choices":[{"index":0,"delta":{"content":"esc"}}]}',
    '{"id":"c\\u0041","choices":[{"index":0,"delta":{"content":"esc2"}}]}',
    '{"__proto__":1,"choices":[{"index":0,"delta":{"content":"p"}}]}',
    '{"__proto__":1,"choices":[{"index":0,"delta":{"content":"q"}}]}',
    '{"2":"x","1":"y","choices":[{"index":0,"delta":{"content":"n"}}]}',
    '{"1":"y","2":"x","choices":[{"index":0,"delta":{"content":"n"}}]}',
    '{"1":"y","2":"x","choices":[{"index":0,"delta":{"content":"m"}}]}',
    '[1,2]',
    'null',
    '"text"',
  ])
})

t.test('chunks built from one learned chunk share no object with it or with each other', async (t) => {
  const parser = new StreamChunkParser()
  const first = parser.parse(chunk({ content: 'a' }))
  const second = parser.parse(chunk({ content: 'b' }))
  const third = parser.parse(chunk({ content: 'c' }))
  second.choices[0].delta.content = 'changed'
  second.choices[0].index = 7
  second.model = 'changed'
  second.choices.push({})
  t.equal(first.choices[0].delta.content, 'a')
  t.equal(third.choices[0].delta.content, 'c')
  t.equal(third.choices[0].index, 0)
  t.equal(third.model, 'm')
  t.equal(third.choices.length, 1)
  t.equal(parser.parse(chunk({ content: 'd' })).choices[0].delta.content, 'd')
})

t.test('openAIChunks: the chunks of a stream are those of JSON.parse, normalised as before', async (t) => {
  const datas = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'a' }), chunk({ content: 'b "q"' }), chunk({ content: 'c' }), JSON.stringify({ id: 'chatcmpl-1', choices: [{ delta: { reasoning: 'r' }, finish_reason: null }] }), JSON.stringify({ id: 'chatcmpl-1', choices: [{ delta: { reasoning: 's' }, finish_reason: null }] }), chunk({}, {}).replace('"finish_reason":null', '"finish_reason":"stop"')]
  const text = datas.map((d) => `data: ${d}\n\n`).join('') + 'data: [DONE]\n\n'
  const got: unknown[] = []
  for await (const c of openAIChunks(Readable.from([Buffer.from(text)]) as never, new AbortController().signal)) got.push(c)
  // Unchanged chunks carry their upstream text (RAW_JSON); the reasoning ones were rewritten.
  const expected = datas.map((d, i) => (i === 4 || i === 5 ? JSON.parse(d) : { ...JSON.parse(d), [RAW_JSON]: d }))
  for (const c of expected.slice(4, 6)) {
    c.choices[0].index = 0
    c.choices[0].delta.reasoning_content = c.choices[0].delta.reasoning
    delete c.choices[0].delta.reasoning
  }
  t.strictSame(got, expected)
})
