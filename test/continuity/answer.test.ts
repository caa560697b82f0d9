// ResumableAnswer: legs of chunks in, one coherent client stream out. No network: chunks are
// built here as an adapter would yield them.
import t from 'tap'
import { ResumableAnswer } from '../../plugins/router/resume/answer.ts'
import { counterReady } from '../../plugins/router/resume/usage.ts'
import { countTokens } from '../../plugins/router/resume/token-count.ts'
import { NATIVE_WIRE, RAW_JSON, type ChatChunk, type ChatRequest, type Usage } from '../../providers/contract.ts'

interface LegSpec {
  id: string
  model: string
  reasoning?: string[]
  text?: string[]
  calls?: Array<{ id: string; name: string; args: string[] }>
  finish?: 'stop' | 'tool_calls' | 'length'
  usage?: Usage
  /** Chunks of a native passthrough: each carries the upstream's own wire text. */
  native?: boolean
}

/** The chunks an adapter yields for a leg: role, reasoning, text, call fragments, finish, usage. */
let wire = 0
function leg(spec: LegSpec): ChatChunk[] {
  const base = { id: spec.id, object: 'chat.completion.chunk' as const, created: spec.id === 'first' ? 100 : 200, model: spec.model }
  const chunk = (delta: ChatChunk['choices'][0]['delta'], finish: ChatChunk['choices'][0]['finish_reason'] = null): ChatChunk => {
    const c: ChatChunk = { ...base, choices: [{ index: 0, delta, finish_reason: finish }] }
    c[RAW_JSON] = JSON.stringify(c)
    if (spec.native) c[NATIVE_WIRE] = { dialect: 'anthropic-messages', text: `event: e${wire++}\n\n` }
    return c
  }
  const chunks = [chunk({ role: 'assistant', content: '' })]
  for (const r of spec.reasoning ?? []) chunks.push(chunk({ reasoning_content: r }))
  for (const p of spec.text ?? []) chunks.push(chunk({ content: p }))
  spec.calls?.forEach((call, index) => {
    chunks.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }))
    for (const a of call.args) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: a } }] }))
  })
  if (spec.finish) chunks.push(chunk({}, spec.finish))
  if (spec.usage) chunks.push({ ...base, choices: [], usage: spec.usage })
  return chunks
}

const request = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'primary', messages: [{ role: 'user', content: 'Tell me about Paris.' }], stream: true, ...extra })

/** Plays legs through an answer: each leg but the last is cut after `cut` chunks. */
function play(answer: ResumableAnswer, legs: Array<{ spec: LegSpec; cut?: number }>, strategy: 'prefill' | 'instruction' = 'prefill'): { out: ChatChunk[]; resumable: boolean[] } {
  const out: ChatChunk[] = []
  const resumable: boolean[] = []
  legs.forEach(({ spec, cut }, i) => {
    if (i > 0) answer.startLeg(strategy, spec.model)
    const chunks = leg(spec)
    for (const c of cut === undefined ? chunks : chunks.slice(0, cut)) out.push(...answer.accept(c))
    if (cut === undefined) out.push(...answer.finish())
    else resumable.push(answer.canResume())
  })
  return { out, resumable }
}

const textOf = (out: ChatChunk[]) => out.map((c) => c.choices[0]?.delta.content ?? '').join('')
const reasoningOf = (out: ChatChunk[]) => out.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('')
const finishes = (out: ChatChunk[]) => out.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)
const calls = (out: ChatChunk[]) => out.flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])

// Exact o200k counts come from the counter's worker thread once it is ready; a count it does
// not answer in time (a loaded machine) is the 4-chars-per-token estimate. Either is right.
t.before(() => counterReady())
function tokenCounts(text: string): number[] {
  let count = countTokens(text)
  for (let i = 0; i < 50 && !count.exact; i++) count = countTokens(text)
  return [count.tokens, Math.ceil(text.length / 4)]
}

const REFERENCE = 'Paris is the capital of France. It lies on the Seine.'

const textCases: Array<{ name: string; first: string[]; cut: number; second: string[]; expect: string; strategy?: 'prefill' | 'instruction' }> = [
  { name: 'a prefill continuation completes the answer', first: ['Paris is ', 'the capital ', 'of France.'], cut: 4, second: [' It lies', ' on the Seine.'], expect: REFERENCE },
  { name: 'a continuation that starts over is cut', first: ['Paris is ', 'the capital ', 'of France.'], cut: 3, second: ['Paris is the capital', ' of France. It lies on the Seine.'], expect: REFERENCE },
  { name: 'a continuation that repeats the last words is cut', first: ['Paris is ', 'the capital ', 'of France.'], cut: 4, second: ['capital of France.', ' It lies on the Seine.'], expect: REFERENCE },
  { name: 'after a prefill, a two-word repeat may be real text and is kept', first: ['ha ha ', 'ha'], cut: 3, second: [' ha ha.'], expect: 'ha ha ha ha ha.' },
  { name: 'after an instruction, a one-word echo is cut', first: ['Paris is ', 'the capital ', 'of France.'], cut: 4, second: ['France. It lies on the Seine.'], expect: REFERENCE, strategy: 'instruction' },
  { name: 'a seam space the client has is not doubled', first: ['Paris is ', 'the capital '], cut: 3, second: [' of France.', ' It lies on the Seine.'], expect: REFERENCE },
  { name: 'a cut right after the role chunk: the continuation is the whole answer', first: ['Paris'], cut: 1, second: [REFERENCE], expect: REFERENCE },
]

for (const c of textCases) {
  t.test(c.name, async (t) => {
    const answer = new ResumableAnswer(request(), { holdToolCalls: true })
    const { out, resumable } = play(answer, [
      { spec: { id: 'first', model: 'primary', text: c.first }, cut: c.cut },
      { spec: { id: 'second', model: 'fb-ok', text: c.second, finish: 'stop' } },
    ], c.strategy)
    t.same(resumable, [true])
    t.equal(textOf(out), c.expect)
    t.same(finishes(out), ['stop'], 'exactly one finish_reason')
    t.ok(out.every((x) => x.id === 'first' && x.created === 100), 'every chunk has the first leg id and created')
    t.equal(out.filter((x) => x.choices[0]?.delta.role).length, 1, "the continuation's role chunk is dropped")
    t.ok(out.filter((x) => x.choices[0]?.delta.content).length > 0)
    const afterResume = out.filter((x) => x.model === 'fb-ok')
    t.ok(afterResume.length > 0 && afterResume.every((x) => x[RAW_JSON] === undefined && x[NATIVE_WIRE] === undefined), 'changed chunks lose their wire text')
    t.equal(answer.finished(), true)
    t.equal(answer.canResume(), false, 'a finished answer is not resumed')
  })
}

t.test('one leg, no fault: chunks pass unchanged (same objects, wire text kept), usage exact', async (t) => {
  const answer = new ResumableAnswer(request({ stream_options: { include_usage: true } }), { holdToolCalls: true })
  const usage = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }
  const chunks = leg({ id: 'first', model: 'primary', reasoning: ['Hmm.'], text: ['Hello', ' there'], finish: 'stop', usage })
  const out = chunks.flatMap((c) => answer.accept(c))
  t.equal(out.length, chunks.length)
  t.ok(out.every((c, i) => c === chunks[i]))
  t.same(answer.finish(), [])
  t.same(answer.usage(), usage)
})

t.test('the continuation is built from what the client received', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  play(answer, [{ spec: { id: 'first', model: 'primary', text: ['Paris is ', 'the capital '] }, cut: 3 }])
  t.same(answer.continuation('prefill').messages.at(-1), { role: 'assistant', content: 'Paris is the capital' })
  t.equal(answer.continuation('instruction').messages.at(-1)!.role, 'user')
})

t.test('tool calls are held until complete and sent whole, one fragment each', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  const chunks = leg({ id: 'first', model: 'primary', calls: [{ id: 'call_1', name: 'get_weather', args: ['{"city"', ':"Paris"}'] }, { id: 'call_2', name: 'get_time', args: ['{}'] }], finish: 'tool_calls' })
  const along = chunks.map((c) => answer.accept(c))
  t.same(along.slice(1, 4).flat(), [], 'nothing of the first call before the second starts')
  const out = along.flat()
  t.same(calls(out), [
    { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    { index: 1, id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
  ])
  t.same(finishes(out), ['tool_calls'])
})

t.test('native passthrough: a held tool call is held as the upstream chunks themselves and released unchanged, in order', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  const chunks = leg({ id: 'first', model: 'primary', native: true, text: ['Checking.'], calls: [{ id: 'call_1', name: 'get_weather', args: ['{"city"', ':"Paris"}'] }, { id: 'call_2', name: 'get_time', args: ['{}'] }], finish: 'tool_calls' })
  const along = chunks.map((c) => answer.accept(c))
  t.same(along.slice(2, 5).map((o) => o.length), [0, 0, 0], 'nothing of the first call before it is complete')
  t.same(along[5].map((c) => chunks.indexOf(c)), [2, 3, 4], 'the second call starting releases the first, as the very chunks that came')
  const out = along.flat()
  t.ok(out.every((c, i) => c === chunks[i]), 'every chunk goes out unchanged (its wire text kept), in the upstream order')
  t.equal(out.length, chunks.length)
  t.same(answer.finish(), [])
})

t.test('native passthrough: a cut inside a held call resumes like a translated one (the client saw none of it)', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  const call = { id: 'call_1', name: 'get_weather', args: ['{"city"', ':"Paris"}'] }
  const { out, resumable } = play(answer, [
    { spec: { id: 'first', model: 'primary', native: true, calls: [call] }, cut: 3 },
    { spec: { id: 'second', model: 'fb-ok', calls: [{ ...call, id: 'call_9' }], finish: 'tool_calls' } },
  ])
  t.same(resumable, [true])
  t.same(calls(out), [{ index: 0, id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }])
  t.same(finishes(out), ['tool_calls'])
})

t.test('a cut inside a held tool call resumes: the continuation writes it again, the client gets it once, whole', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  const call = { id: 'call_1', name: 'get_weather', args: ['{"city"', ':"Paris"}'] }
  const { out, resumable } = play(answer, [
    { spec: { id: 'first', model: 'primary', calls: [call] }, cut: 3 },
    { spec: { id: 'second', model: 'fb-ok', calls: [{ ...call, id: 'call_9' }], finish: 'tool_calls' } },
  ])
  t.same(resumable, [true])
  t.same(calls(out), [{ index: 0, id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }])
  t.same(finishes(out), ['tool_calls'])
})

t.test('a cut inside the second call: the first (delivered) is not repeated, the second comes whole at index 1', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  const a = { id: 'call_1', name: 'a', args: ['{"x":', '1}'] }
  const b = { id: 'call_2', name: 'b', args: ['{"y":', '2}'] }
  const { out } = play(answer, [
    { spec: { id: 'first', model: 'primary', text: ['Let me look.'], calls: [a, b] }, cut: 7 },
    { spec: { id: 'second', model: 'fb-ok', calls: [a, b], finish: 'tool_calls' } },
  ])
  t.same(calls(out).map((c) => [c.index, c.id, c.function?.arguments]), [[0, 'call_1', '{"x":1}'], [1, 'call_2', '{"y":2}']])
  t.equal(textOf(out), 'Let me look.')
})

t.test('live tool calls: fragments pass as they come, and a cut inside a call cannot be resumed', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: false })
  const chunks = leg({ id: 'first', model: 'primary', calls: [{ id: 'call_1', name: 'get', args: ['{"a"', ':1}'] }], finish: 'tool_calls' })
  t.equal(answer.accept(chunks[0]).length, 1)
  t.same(answer.accept(chunks[1]), [chunks[1]], 'the fragment passes unchanged')
  t.equal(answer.canResume(), false)
})

t.test('reasoning delivered before the cut is not repeated; the continuation passes on new reasoning', async (t) => {
  const restart = new ResumableAnswer(request(), { holdToolCalls: true })
  const thought = ['Paris: ', 'capital, Seine.']
  const { out } = play(restart, [
    { spec: { id: 'first', model: 'primary', reasoning: thought }, cut: 2 },
    { spec: { id: 'second', model: 'fb-ok', reasoning: thought, text: ['Paris is the capital.'], finish: 'stop' } },
  ])
  t.equal(reasoningOf(out), 'Paris: capital, Seine.', 'a restart repeats the reasoning: the repeat is cut')
  t.equal(textOf(out), 'Paris is the capital.')

  const fresh = new ResumableAnswer(request(), { holdToolCalls: true })
  const second = play(fresh, [
    { spec: { id: 'first', model: 'primary', reasoning: thought, text: ['Paris is'] }, cut: 4 },
    { spec: { id: 'second', model: 'fb-ok', reasoning: ['Continue the sentence.'], text: [' the capital.'], finish: 'stop' } },
  ]).out
  t.equal(reasoningOf(second), 'Paris: capital, Seine.Continue the sentence.', "the continuation's own reasoning passes on")
  t.equal(textOf(second), 'Paris is the capital.')
})

t.test('usage after a resume: prompt of the first leg, completion = o200k tokens of what the client got', async (t) => {
  const answer = new ResumableAnswer(request({ stream_options: { include_usage: true } }), { holdToolCalls: true })
  const { out } = play(answer, [
    { spec: { id: 'first', model: 'primary', text: ['Paris is ', 'the capital'] }, cut: 3 },
    { spec: { id: 'second', model: 'fb-ok', text: ['Paris is the capital of France.'], finish: 'stop', usage: { prompt_tokens: 40, completion_tokens: 8, total_tokens: 48 } } },
  ])
  const reported = out.filter((c) => c.usage).map((c) => c.usage)
  t.equal(reported.length, 1, 'one usage chunk')
  t.ok(tokenCounts('Paris is the capital of France.').includes(reported[0]!.completion_tokens), 'the tokens of the whole delivered answer')
  t.ok(reported[0]!.prompt_tokens > 0 && reported[0]!.prompt_tokens < 40, 'first leg prompt (estimated: it never reported), not the continuation prompt')
  t.equal(answer.usage()!.prompt_tokens, reported[0]!.prompt_tokens)
})

t.test("usage the client did not ask for (the gateway asked the continuation for it) is not sent", async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  const { out } = play(answer, [
    { spec: { id: 'first', model: 'primary', text: ['Paris is '] }, cut: 2 },
    { spec: { id: 'second', model: 'fb-ok', text: ['the capital.'], finish: 'stop', usage: { prompt_tokens: 40, completion_tokens: 8, total_tokens: 48 } } },
  ])
  t.equal(out.filter((c) => c.usage).length, 0)
  t.ok(out.every((c) => c.choices.length > 0), 'no empty usage chunk')
  t.ok(tokenCounts('Paris is the capital.').includes(answer.usage()!.completion_tokens))
})

t.test('a client that asked for usage gets it after a resume even when the continuing upstream sent none', async (t) => {
  const answer = new ResumableAnswer(request({ stream_options: { include_usage: true } }), { holdToolCalls: true })
  const { out } = play(answer, [
    { spec: { id: 'first', model: 'primary', text: ['Paris is '] }, cut: 2 },
    { spec: { id: 'second', model: 'fb-ok', text: ['the capital.'], finish: 'stop' } },
  ])
  const usage = out.filter((c) => c.usage)
  t.equal(usage.length, 1, 'one usage chunk, from finish()')
  t.same(usage[0].choices, [])
  t.ok(tokenCounts('Paris is the capital.').includes(usage[0].usage!.completion_tokens))
  t.equal(usage[0].id, 'first')
})

t.test('several resumes in a row keep one answer', async (t) => {
  const answer = new ResumableAnswer(request(), { holdToolCalls: true })
  const { out, resumable } = play(answer, [
    { spec: { id: 'first', model: 'primary', text: ['Paris is '] }, cut: 2 },
    { spec: { id: 'second', model: 'fb-1', text: ['Paris is the capital ', 'of'] }, cut: 3 },
    { spec: { id: 'third', model: 'fb-2', text: [' France.'], finish: 'stop' } },
  ])
  t.same(resumable, [true, true])
  t.equal(textOf(out), 'Paris is the capital of France.')
  t.same(finishes(out), ['stop'])
  t.ok(out.every((c) => c.id === 'first'))
  t.same([...new Set(out.map((c) => c.model))], ['primary', 'fb-1', 'fb-2'])
})

t.test('n > 1 is not resumable', async (t) => {
  const answer = new ResumableAnswer(request({ n: 2 }), { holdToolCalls: true })
  t.equal(answer.canResume(), false)
})
