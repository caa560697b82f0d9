// The process's one o200k_base counter (plugins/tokenizer/counter.ts), shared by resumed streams
// (synchronous counts) and count_tokens (asynchronous): no thread before the first count, exact
// counts equal to js-tiktoken's in this thread, and a counter stopped — by hand or after its
// quiet period — starts again on the next count and counts the same. A synchronous count may be
// the estimate while the thread starts or is slow (a loaded machine): the tests ask again, a
// bounded number of times, rather than assume a speed.
import t from 'tap'
import { TokenCounter, tokenCounter, estimateTokens, type TokenCount } from '../../plugins/tokenizer/counter.ts'
import { WorkerTokenizer } from '../../plugins/tokenizer.ts'
import { countTokens } from '../../plugins/router/resume/token-count.ts'
import { encodeTexts } from '../../dialects/anthropic-messages/count-tokens.ts'

const TEXTS = ['Paris is the capital of France.', 'ünïcödé, 12345, <tags> and code() {}', 'a <|endoftext|> b', 'word '.repeat(5000)]

async function exactCount(counter: TokenCounter, text: string): Promise<TokenCount> {
  await counter.ready()
  let last = counter.countNow(text)
  for (let i = 0; i < 50 && !last.exact; i++) last = counter.countNow(text)
  return last
}

t.test('no thread exists before the first count; the first count starts it', async (t) => {
  const counter = new TokenCounter()
  t.teardown(() => counter.stop())
  t.equal(counter.state, 'stopped')
  const first = counter.countNow('hello world')
  t.same(first, { tokens: estimateTokens('hello world'), exact: false }, 'estimated at once while the thread starts')
  t.equal(counter.state, 'starting')
  await counter.ready()
  t.equal(counter.state, 'ready')
})

t.test('counts are js-tiktoken o200k_base counts, synchronous and asynchronous alike', async (t) => {
  const counter = new TokenCounter()
  t.teardown(() => counter.stop())
  t.equal(await counter.count(TEXTS), await encodeTexts(TEXTS), 'a list of texts, as count_tokens counts them in this thread')
  t.same(await exactCount(counter, 'Paris is the capital of France.'), { tokens: 7, exact: true })
  t.same(counter.countNow('<|endoftext|>').exact, false, 'a synchronous special-token string is estimated, not thrown')
  t.equal(await counter.count(['<|endoftext|>']), await encodeTexts(['<|endoftext|>']), 'count_tokens counts it as text')
})

t.test('a stopped counter starts again on demand and counts the same', async (t) => {
  const counter = new TokenCounter()
  t.teardown(() => counter.stop())
  const before = await counter.count(TEXTS)
  const exactBefore = await exactCount(counter, TEXTS[1])
  await counter.stop()
  t.equal(counter.state, 'stopped')
  t.equal(await counter.count(TEXTS), before, 'asynchronous count after the restart')
  t.same(await exactCount(counter, TEXTS[1]), exactBefore, 'synchronous count after the restart')
})

t.test('a counter with nothing to count for its quiet period stops itself; a count in flight keeps it', async (t) => {
  const counter = new TokenCounter({ idleStopMs: 150 })
  t.teardown(() => counter.stop())
  await counter.ready()
  const busy = counter.count(['token '.repeat(20_000)])
  t.equal(await busy, await encodeTexts(['token '.repeat(20_000)]))
  t.not(counter.state, 'stopped', 'not stopped at once after a count')
  for (let i = 0; i < 100 && counter.state !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(counter.state, 'stopped', 'stopped after the quiet period')
  t.same(await exactCount(counter, 'hello world'), { tokens: 2, exact: true }, 'started again by the next count')
})

t.test('resumed streams and count_tokens share the process counter', async (t) => {
  t.teardown(() => tokenCounter.stop())
  t.equal(tokenCounter.state, 'stopped')
  await new WorkerTokenizer().count(['hello'])
  t.equal(tokenCounter.state, 'ready', 'count_tokens started it')
  let resumed = countTokens('hello world')
  for (let i = 0; i < 50 && !resumed.exact; i++) resumed = countTokens('hello world')
  t.same(resumed, { tokens: 2, exact: true }, 'a resumed stream counts on the same, already ready thread')
})
