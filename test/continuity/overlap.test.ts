// The overlap cutter: a continuation that starts over or repeats the last words loses the
// repeat; one that really continues is passed on whole; the seam's whitespace is not doubled;
// nothing is ever lost, and only a bounded prefix is held back.
import t from 'tap'
import { ContinuationDiverged, MAX_PROBE_CHARS, MIN_REPEAT_WORDS, OverlapCutter, tailStarts } from '../../plugins/router/resume/overlap.ts'

/** Feeds the pieces, then flushes: what the client gets from the continuation. */
function cut(delivered: string, pieces: string[], minWords = 1): string {
  const cutter = new OverlapCutter(delivered, minWords)
  return pieces.map((p) => cutter.push(p)).join('') + cutter.flush()
}

const cases: Array<{ name: string; delivered: string; pieces: string[]; expect: string }> = [
  { name: 'a real continuation passes whole', delivered: 'The quick brown', pieces: [' fox', ' jumps.'], expect: ' fox jumps.' },
  { name: 'a mid-word cut continues mid-word', delivered: 'The quick bro', pieces: ['wn fox'], expect: 'wn fox' },
  { name: 'a start-over is cut', delivered: 'The quick brown', pieces: ['The quick', ' brown fox', ' jumps.'], expect: ' fox jumps.' },
  { name: 'a start-over in one piece is cut', delivered: 'Hello there', pieces: ['Hello there, friend.'], expect: ', friend.' },
  { name: 'a start-over with a leading space is cut', delivered: 'Hello there', pieces: [' Hello there, friend.'], expect: ', friend.' },
  { name: 'a repeat of the last words is cut', delivered: 'The quick brown fox', pieces: ['brown fox', ' jumps.'], expect: ' jumps.' },
  { name: 'a repeat of the last words after a space is cut', delivered: 'The quick brown fox', pieces: [' brown fox jumps.'], expect: ' jumps.' },
  { name: 'a repeat of a half word is completed, not doubled', delivered: 'The quick brown fox jum', pieces: ['jumps over'], expect: 'ps over' },
  { name: 'the longest repeat wins', delivered: 'ab ab ab', pieces: ['ab ab ab cd'], expect: ' cd' },
  { name: 'delivered ends in a space, continuation starts with one: not doubled', delivered: 'Hello ', pieces: [' world'], expect: 'world' },
  { name: 'delivered ends in a space, continuation starts without: kept', delivered: 'Hello ', pieces: ['world'], expect: 'world' },
  { name: 'delivered ends without a space, continuation brings it', delivered: 'Hello', pieces: [' world'], expect: ' world' },
  { name: 'a paragraph break split over pieces is not doubled', delivered: 'One.\n\n', pieces: ['\n', '\nTwo.'], expect: 'Two.' },
  { name: 'a deeper break than delivered keeps the extra newline', delivered: 'One.\n', pieces: ['\n\nTwo.'], expect: '\nTwo.' },
  { name: 'a repeat after a delivered trailing space', delivered: 'The quick brown fox ', pieces: ['brown fox jumps'], expect: 'jumps' },
  { name: 'nothing delivered: everything passes', delivered: '', pieces: ['Hi', ' there'], expect: 'Hi there' },
  { name: 'a short last word is not taken as a repeat', delivered: 'I said no', pieces: [' no more'], expect: ' no more' },
  { name: 'a continuation that ends while still ambiguous is released', delivered: 'The quick brown fox', pieces: ['brown'], expect: 'brown' },
  { name: 'whitespace-only continuation is released at the end', delivered: 'Done.', pieces: ['  '], expect: '  ' },
  { name: 'punctuation repeated with its word', delivered: 'It works. Next,', pieces: ['Next, we go'], expect: ' we go' },
  { name: 'unicode words', delivered: 'Das Ergebnis ist größer', pieces: ['größer als drei'], expect: ' als drei' },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.equal(cut(c.delivered, c.pieces), c.expect)
  })
}

t.test('byte-identity: every prefix of a reference answer, continued by a start-over, gives the reference', async (t) => {
  const reference = 'Paris is the capital of France. It lies on the Seine, and about two million people live there.\n\nIt is known for art.'
  for (let at = 1; at < reference.length; at++) {
    const delivered = reference.slice(0, at)
    const pieces = reference.match(/.{1,7}/gs)!
    const got = delivered + cut(delivered, pieces)
    if (got !== reference) t.fail(`start-over after ${at} chars: ${JSON.stringify(got)}`)
  }
  t.pass('all prefixes')
})

t.test('byte-identity: a prefill continuation of every prefix (trimmed like continuation.ts) gives the reference', async (t) => {
  const reference = 'Paris is the capital of France. It lies on the Seine.\n\nIt is known for art and food.'
  for (let at = 1; at < reference.length; at++) {
    const delivered = reference.slice(0, at)
    const rest = reference.slice(delivered.trimEnd().length) // what a model writes after a trimmed prefill
    const got = delivered + cut(delivered, rest.match(/.{1,5}/gs) ?? [])
    if (got !== reference) t.fail(`prefill after ${at} chars (${JSON.stringify(delivered.slice(-8))}): ${JSON.stringify(got.slice(at - 8))}`)
  }
  t.pass('all prefixes')
})

t.test('after a prefill (3 words needed) repetitive text is kept; a start-over and a 3-word echo are still cut', async (t) => {
  const rows: Array<[string, string[], string]> = [
    ['ha ha ha', [' ha ha.'], ' ha ha.'],
    ['- item\n- item', ['\n- item'], '\n- item'],
    ['The quick brown fox', ['brown fox jumps'], 'brown fox jumps'],
    ['The quick brown fox', ['quick brown fox jumps'], ' jumps'],
    ['The quick brown fox', ['The quick brown fox jumps'], ' jumps'],
    ['Hi', ['Hi there'], ' there'],
  ]
  for (const [delivered, pieces, expect] of rows) t.equal(cut(delivered, pieces, MIN_REPEAT_WORDS.prefill), expect, `${JSON.stringify(delivered)} + ${JSON.stringify(pieces)}`)
})

t.test('a long start-over is confirmed after a bounded probe, then dropped as it streams', async (t) => {
  const delivered = 'word '.repeat(400).trim() // 1999 chars
  const cutter = new OverlapCutter(delivered)
  let out = ''
  let maxHeld = 0
  for (const piece of (delivered + ' and more').match(/.{1,10}/gs)!) {
    out += cutter.push(piece)
    maxHeld = Math.max(maxHeld, cutter.held())
  }
  out += cutter.flush()
  t.equal(out, ' and more')
  t.ok(maxHeld <= MAX_PROBE_CHARS + 10, `held at most ${maxHeld} chars`)
})

t.test('a start-over that diverges after the probe throws (the answer would be incoherent)', async (t) => {
  const delivered = 'x'.repeat(MAX_PROBE_CHARS + 50)
  const cutter = new OverlapCutter(delivered)
  cutter.push('x'.repeat(MAX_PROBE_CHARS + 10))
  let thrown: unknown
  try { cutter.push('yyy') } catch (err) { thrown = err }
  t.ok(thrown instanceof ContinuationDiverged, 'throws ContinuationDiverged')
  t.equal((thrown as ContinuationDiverged).kind, 'malformed', 'a malformed stream for the router')
})

t.test('a continuation is held only until it cannot be a repeat', async (t) => {
  const cutter = new OverlapCutter('The quick brown fox')
  t.equal(cutter.push('Zebras'), 'Zebras', 'differs from every tail at once: released at once')
  t.equal(cutter.push(' run'), ' run')
  const ambiguous = new OverlapCutter('The quick brown fox')
  t.equal(ambiguous.push('bro'), '', 'could still be "brown fox": held')
  t.equal(ambiguous.push('ken'), 'broken', 'no longer a repeat: released whole')
})

t.test('tailStarts: the start and word starts with at least 3 characters after them', async (t) => {
  const text = 'The quick brown fox'
  t.same(tailStarts(text).map((i) => text.slice(i)), ['The quick brown fox', 'quick brown fox', 'brown fox', 'fox'])
  t.same(tailStarts(''), [])
  t.same(tailStarts(text, 3).map((i) => text.slice(i)), ['The quick brown fox', 'quick brown fox'], 'three words or the whole text')
})
