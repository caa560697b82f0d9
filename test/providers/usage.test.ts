// usageIsSane decides whether a chunk's or answer's upstream usage is kept as it came (and its
// upstream text reused) or replaced by normalizeUsage's copy. It was that copy serialized and
// compared with the original; it is now a walk. The definition it must never be looser than is
// that comparison: a usage it calls sane must be exactly what normalizeUsage would make of it.
import t from 'tap'
import { normalizeUsage, usageIsSane } from '../../providers/usage.ts'

/** The definition: the copy serializes as the original does. */
const copyIsSame = (usage: unknown): boolean => {
  if (usage === undefined || usage === null) return true
  const normalized = normalizeUsage(usage)
  return normalized !== undefined && JSON.stringify(normalized) === JSON.stringify(usage)
}

const cases: Array<[string, unknown, boolean]> = [
  ['absent', undefined, true],
  ['null', null, true],
  ['the three counts', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 }, true],
  ['zeros', { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }, true],
  ['a total that does not add up is still a count', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 99 }, true],
  ['OpenAI details', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 3 } }, true],
  ['an extra count (Groq timing)', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, queue_time: 0.02 }, true],
  ['no total', { prompt_tokens: 9, completion_tokens: 7 }, false],
  ['total first', { total_tokens: 16, prompt_tokens: 9, completion_tokens: 7 }, false],
  ['completion before prompt', { completion_tokens: 7, prompt_tokens: 9, total_tokens: 16 }, false],
  ['a string count', { prompt_tokens: '9', completion_tokens: 7, total_tokens: 16 }, false],
  ['a negative count', { prompt_tokens: 9, completion_tokens: -7, total_tokens: 2 }, false],
  ['Infinity (1e400)', { prompt_tokens: 9, completion_tokens: 7, total_tokens: Infinity }, false],
  ['NaN', { prompt_tokens: 9, completion_tokens: NaN, total_tokens: 16 }, false],
  ['an extra string', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, note: 'x' }, false],
  ['an extra object that is not details', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, extra: { a: 1 } }, false],
  ['details with a bad count', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: { cached_tokens: -1 } }, false],
  ['details with a nested object', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: { cached: { n: 1 } } }, false],
  ['empty details', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: {} }, false],
  ['details that are a number', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: 3 }, false],
  ['details that are an array', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: [1] }, false],
  ['details that are null', { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, prompt_tokens_details: null }, false],
  ['an array', [9, 7, 16], false],
  ['a number', 16, false],
  ['a string', 'usage', false],
]

t.test('each case: the walk says what the copy says', async (t) => {
  for (const [name, usage, sane] of cases) {
    t.equal(copyIsSame(usage), sane, `${name}: the definition`)
    t.equal(usageIsSane(usage), sane, `${name}: the walk`)
  }
})

t.test('where the walk is stricter, the copy serializes the same (rebuilding it is harmless)', async (t) => {
  // An integer-like key comes first in any object's key order; an undefined value is not serialized.
  const stricter = [
    { 5: 1, prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 },
    { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16, later: undefined },
  ]
  for (const usage of stricter) {
    t.equal(usageIsSane(usage), false, `${JSON.stringify(usage)}: rebuilt`)
    t.same(JSON.parse(JSON.stringify(normalizeUsage(usage))), JSON.parse(JSON.stringify(usage)), 'to the same counts')
  }
})

/** A seeded generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('20,000 random usages: the walk never calls sane what the copy would change', async (t) => {
  const next = random(14)
  const pick = <T>(options: T[]): T => options[Math.floor(next() * options.length)]
  const values = () => pick<unknown>([0, 3, 16, 2.5, -1, Infinity, NaN, '9', null, true, { cached_tokens: 1 }, {}, [1], { a: -1 }])
  const keys = ['prompt_tokens', 'completion_tokens', 'total_tokens', 'prompt_tokens_details', 'completion_tokens_details', 'queue_time', 'cost', '7']
  let sane = 0
  let wrong = 0
  for (let i = 0; i < 20_000; i++) {
    const usage: Record<string, unknown> = {}
    // Half of them start canonical, so that the sane side is well covered too.
    if (next() < 0.5) Object.assign(usage, { prompt_tokens: pick([1, 9]), completion_tokens: pick([0, 7]), total_tokens: pick([16, 8]) })
    const extra = Math.floor(next() * 4)
    for (let k = 0; k < extra; k++) usage[pick(keys)] = values()
    const walk = usageIsSane(usage)
    if (walk) sane++
    if (walk && !copyIsSame(usage)) wrong++
  }
  t.equal(wrong, 0, 'no usage the walk keeps differs from its copy')
  t.ok(sane > 2_000, `and the sane side is exercised (${sane} kept)`)
})
