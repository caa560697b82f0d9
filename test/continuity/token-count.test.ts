// The o200k_base counter in its worker thread: estimated (never blocking) until ready, exact after.
// A count may also be an estimate when the worker does not answer within COUNT_WAIT_MS (a loaded
// machine): the tests ask again, a bounded number of times, rather than assume a speed.
import t from 'tap'
import { countTokens, counterReady, type TokenCount } from '../../plugins/router/resume/token-count.ts'

const estimate = (text: string) => Math.ceil(text.length / 4)

/** An exact count, asking up to 50 times (each answer is either exact or the estimate). */
function exactCount(text: string): TokenCount {
  let last = countTokens(text)
  for (let i = 0; i < 50 && !last.exact; i++) last = countTokens(text)
  return last
}

t.test('before the worker is ready a count is an estimate, returned at once (the tokenizer is not built on this thread)', async (t) => {
  const early = countTokens('Paris is the capital of France.')
  t.same(early, { tokens: estimate('Paris is the capital of France.'), exact: false })
})

t.test('once ready, counts are exact o200k_base counts', async (t) => {
  await counterReady()
  const rows: Array<[string, number]> = [['', 0], ['hello world', 2], ['Paris is the capital of France.', 7]]
  for (const [text, tokens] of rows) t.same(exactCount(text), { tokens, exact: true }, JSON.stringify(text))
  t.same(countTokens('<|endoftext|>').exact, false, 'a special-token string is estimated, not thrown')
})

t.test('every answer belongs to its question: exact counts are right, the others are the estimate', async (t) => {
  await counterReady()
  const texts = Array.from({ length: 300 }, (_, i) => 'word '.repeat(i % 17 + 1).trim())
  let exact = 0
  for (const text of texts) {
    const c = countTokens(text)
    const words = text.split(' ').length
    if (c.exact) {
      exact++
      if (c.tokens !== words) t.fail(`${JSON.stringify(text)}: ${c.tokens} tokens, expected ${words}`)
    } else if (c.tokens !== estimate(text)) t.fail(`${JSON.stringify(text)}: neither exact nor the estimate`)
  }
  t.ok(exact > 0, `${exact} of ${texts.length} counts exact`)
})
