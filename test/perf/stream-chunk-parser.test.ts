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

/** How many times JSON.parse runs while `run` does. */
function jsonParsesDuring(run: () => void): number {
  const parse = JSON.parse
  let calls = 0
  JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
    calls++
    return parse(...args)
  }) as typeof JSON.parse
  try {
    run()
  } finally {
    JSON.parse = parse
  }
  return calls
}

t.test('a stream of text chunks is parsed until one is learned, then built', async (t) => {
  const texts = Array.from({ length: 10 }, (_, i) => `token${i} `)
  const cases: Array<[name: string, datas: string[], parses: number]> = [
    ['role chunk, then text', [chunk({ role: 'assistant', content: '' }), ...texts.map((text) => chunk({ content: text }))], 2],
    ['reasoning text', texts.map((text) => chunk({ reasoning_content: text })), 1],
    // Learned from its own text: a number spelled 1e3 is the same number in every chunk.
    ['non-canonical numbers', texts.map((text) => `{"id":"c","created":1e3,"choices":[{"index":0,"delta":{"content":"${text}"}}]}`), 1],
    // A chunk with an escape cannot be learned; the next one can.
    ['an escape in the first text', [chunk({ content: 'line\nbreak' }), ...texts.map((text) => chunk({ content: text }))], 2],
    // Every chunk differs outside its text (OpenAI's obfuscation): learned once, then parsed.
    ['varies outside the text', texts.map((text, i) => chunk({ content: text }, { obfuscation: `x${i}` })), 10],
  ]
  for (const [name, datas, parses] of cases) {
    const parser = new StreamChunkParser()
    const got: unknown[] = []
    t.equal(jsonParsesDuring(() => { for (const data of datas) got.push(parser.parse(data)) }), parses, `${name}: JSON.parse runs`)
    t.strictSame(got, datas.map((data) => JSON.parse(data)), `${name}: the same objects as JSON.parse`)
  }
})

t.test('texts where the slot cannot be told from the text alone are never learned', async (t) => {
  // Each pair: a learnable-looking chunk, then the same text around another string. Built from a
  // wrong slot, the second would differ from JSON.parse; parsed, it cannot.
  const pairs: Array<[name: string, data: (text: string) => string]> = [
    // The same key at the top level, the delta's spelled with a space: `"content"` twice.
    ['the key twice, once spaced', (text) => `{"content":"${text}","choices":[{"index":0,"delta":{"content" : "${text}"}}]}`],
    // A duplicate key spelled with an escape: JSON.parse keeps the last.
    ['an escaped duplicate key', (text) => `{"choices":[{"index":0,"delta":{"content":"${text}","\\u0063ontent":"a"}}]}`],
    // An overridden duplicate `choices`: JSON.parse keeps the second.
    ['an overridden choices', (text) => `{"choices":[{"index":0,"delta":{"content":"${text}"}}],"choices":[{"index":0,"delta":{"content":"a"}}]}`],
    // A string value spelled like the key.
    ['the key as a value', (text) => `{"id":"content","choices":[{"index":0,"delta":{"content":"${text}"}}]}`],
  ]
  for (const [name, data] of pairs) {
    const datas = [data('a'), data('b'), data('c')]
    const parser = new StreamChunkParser()
    const got: unknown[] = []
    t.equal(jsonParsesDuring(() => { for (const d of datas) got.push(parser.parse(d)) }), datas.length, `${name}: every chunk parsed`)
    t.strictSame(got, datas.map((d) => JSON.parse(d)), `${name}: the same objects as JSON.parse`)
  }
})
