// The o200k_base counter in its worker thread: estimated (never blocking) until ready, exact after.
import t from 'tap'
import { countTokens, counterReady } from '../../plugins/router/resume/token-count.ts'

t.test('before the worker is ready a count is an estimate, returned at once (the tokenizer is not built on this thread)', async (t) => {
  const early = countTokens('Paris is the capital of France.')
  t.same(early, { tokens: Math.ceil('Paris is the capital of France.'.length / 4), exact: false })
})

t.test('once ready, counts are exact o200k_base counts', async (t) => {
  await counterReady()
  const rows: Array<[string, number]> = [['', 0], ['hello world', 2], ['Paris is the capital of France.', 7]]
  for (const [text, tokens] of rows) t.same(countTokens(text), { tokens, exact: true }, JSON.stringify(text))
  const many = Array.from({ length: 200 }, (_, i) => countTokens(`word ${i}`))
  t.ok(many.every((c) => c.exact), 'many counts in a row stay exact (no answer taken for another)')
  t.same(countTokens('<|endoftext|>').exact, false, 'a special-token string is estimated, not thrown')
})
