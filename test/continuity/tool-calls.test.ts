// Tool-call holding: fragments in, whole calls out once complete; repeats of delivered calls recognised.
import t from 'tap'
import { RepeatedCallFilter, ToolCallHolder, sameCall } from '../../plugins/router/resume/tool-calls.ts'
import type { ChunkToolCall, ToolCall } from '../../providers/contract.ts'

const call = (id: string, name: string, args: string): ToolCall => ({ id, type: 'function', function: { name, arguments: args } })

const holderCases: Array<{ name: string; fragments: ChunkToolCall[][]; completedAlong: string[][]; released: string[] }> = [
  {
    name: 'one call in fragments: nothing until release',
    fragments: [[{ index: 0, id: 'c1', type: 'function', function: { name: 'get', arguments: '' } }], [{ index: 0, function: { arguments: '{"a"' } }], [{ index: 0, function: { arguments: ':1}' } }]],
    completedAlong: [[], [], []],
    released: ['c1 get {"a":1}'],
  },
  {
    name: 'the next call starting completes the previous',
    fragments: [[{ index: 0, id: 'c1', function: { name: 'a', arguments: '{}' } }], [{ index: 1, id: 'c2', function: { name: 'b', arguments: '{"x"' } }], [{ index: 1, function: { arguments: ':2}' } }]],
    completedAlong: [[], ['c1 a {}'], []],
    released: ['c2 b {"x":2}'],
  },
  {
    name: 'a name repeated in every fragment is not doubled',
    fragments: [[{ index: 0, id: 'c1', function: { name: 'get', arguments: '{' } }], [{ index: 0, function: { name: 'get', arguments: '}' } }]],
    completedAlong: [[], []],
    released: ['c1 get {}'],
  },
  {
    name: 'a whole call in one fragment (Ollama, Gemini) is held until release',
    fragments: [[{ index: 0, id: 'c1', type: 'function', function: { name: 'get', arguments: '{"q":"x"}' } }]],
    completedAlong: [[]],
    released: ['c1 get {"q":"x"}'],
  },
  {
    name: 'two calls in one chunk: the first completes at once',
    fragments: [[{ index: 0, id: 'c1', function: { name: 'a', arguments: '{}' } }, { index: 1, id: 'c2', function: { name: 'b', arguments: '{}' } }]],
    completedAlong: [['c1 a {}']],
    released: ['c2 b {}'],
  },
]

const show = (c: ToolCall) => `${c.id} ${c.function.name} ${c.function.arguments}`

for (const c of holderCases) {
  t.test(c.name, async (t) => {
    const holder = new ToolCallHolder()
    c.fragments.forEach((fragments, i) => t.same(holder.add(fragments).map(show), c.completedAlong[i], `after step ${i}`))
    t.same(holder.release().map(show), c.released)
    t.notOk(holder.holding())
  })
}

t.test('discard drops a half call', async (t) => {
  const holder = new ToolCallHolder()
  holder.add([{ index: 0, id: 'c1', function: { name: 'a', arguments: '{"half' } }])
  t.ok(holder.holding())
  holder.discard()
  t.same(holder.release(), [])
})

t.test('sameCall compares arguments as JSON when they parse', async (t) => {
  const rows: Array<[ToolCall, ToolCall, boolean]> = [
    [call('a', 'f', '{"x":1}'), call('b', 'f', '{"x":1}'), true],
    [call('a', 'f', '{"x":1}'), call('b', 'f', '{ "x": 1 }'), true],
    [call('a', 'f', '{"x":1}'), call('b', 'f', '{"x":2}'), false],
    [call('a', 'f', '{"x":1}'), call('b', 'g', '{"x":1}'), false],
    [call('a', 'f', 'not json'), call('b', 'f', 'not json'), true],
    [call('a', 'f', 'not json'), call('b', 'f', 'not  json'), false],
  ]
  for (const [a, b, same] of rows) t.equal(sameCall(a, b), same, `${a.function.arguments} vs ${b.function.arguments}`)
})

t.test('RepeatedCallFilter: repeats of delivered calls in order are dropped; the first new call ends matching', async (t) => {
  const delivered = [call('c1', 'a', '{}'), call('c2', 'b', '{}')]
  const filter = new RepeatedCallFilter(delivered)
  t.equal(filter.isRepeat(call('n1', 'a', '{}')), true)
  t.equal(filter.isRepeat(call('n2', 'b', '{}')), true)
  t.equal(filter.isRepeat(call('n3', 'a', '{}')), false, 'a third call to a is new')
  const other = new RepeatedCallFilter(delivered)
  t.equal(other.isRepeat(call('n1', 'c', '{}')), false)
  t.equal(other.isRepeat(call('n2', 'b', '{}')), false, 'after a new call nothing is taken as a repeat')
})
