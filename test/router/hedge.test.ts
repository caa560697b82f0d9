// Hedged first tokens (issue 10 item 2): a stream whose first chunk is late gets the next
// candidate started beside it; the first to produce content wins and the other is aborted at
// once, its socket freed. Off by default; each started call counts in MAX_ATTEMPTS.
import t, { type Test } from 'tap'
import type { Gateway } from '../helpers/gateway.ts'
import { twoProviders as twoOpenAIProviders, type TwoProviders } from './two-providers.ts'
import { waitFor } from '../helpers/wait.ts'

const hi = [{ role: 'user' as const, content: 'hi' }]

/** `first` and `second` serving `m`, with first-byte and total timeouts far above the hedge delays. */
const twoProviders = (t: Test, env: Record<string, string>): Promise<TwoProviders> =>
  twoOpenAIProviders(t, ['m'], { TIMEOUT_FIRST_BYTE_MS: '20000', TIMEOUT_TOTAL_MS: '20000', ...env })

async function streamed(gw: Gateway) {
  const { data: stream, response } = await gw.client.chat.completions.create({ model: 'm', messages: hi, stream: true }).withResponse()
  let text = ''
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
  return { text, response }
}

const failures = (gw: Gateway) => gw.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'upstream attempt failed')

t.test('the hedge wins: the late provider is aborted at once and its socket freed', async (t) => {
  const { gw, first, second } = await twoProviders(t, { FIRST_HEDGE_FIRST_BYTE_MS: '150' })
  first.script({ content: 'too late', thinkMs: 3_000 }) // headers at once, then silence
  const { text, response } = await streamed(gw)
  t.equal(text, 'Hello from second')
  t.equal(response.headers.get('x-tiergate-provider'), 'second')
  t.equal(response.headers.get('x-tiergate-attempts'), '2', 'each started call is an attempt')
  t.equal(second.chatRequests().length, 1)
  await waitFor(() => first.chatRequests()[0].aborted, 'the losing request to be aborted', 3000)
  await first.waitForNoSockets(3000)
  t.equal(first.openSockets(), 0, 'the loser\'s socket is closed')
  t.same(failures(gw).filter((f) => f.provider === 'first'), [], 'the loser is not a failure: it was only slower')
})

t.test('the primary wins when its first chunk comes before the hedge\'s: the hedge is aborted', async (t) => {
  const { gw, first, second } = await twoProviders(t, { HEDGE_FIRST_BYTE_MS: '100' })
  first.script({ content: 'Hello from first', thinkMs: 400 })
  second.script({ content: 'too late', thinkMs: 3_000 })
  const { text, response } = await streamed(gw)
  t.equal(text, 'Hello from first')
  t.equal(response.headers.get('x-tiergate-provider'), 'first')
  t.equal(response.headers.get('x-tiergate-attempts'), '2')
  await waitFor(() => second.chatRequests().length === 1 && second.chatRequests()[0].aborted, 'the hedge to be started and aborted', 3000)
  await second.waitForNoSockets(3000)
})

t.test('off by default: the next candidate is only tried after the first-byte timeout', async (t) => {
  const { gw, first } = await twoProviders(t, { FIRST_TIMEOUT_FIRST_BYTE_MS: '300' })
  first.script({ content: 'too late', thinkMs: 3_000 })
  const { text } = await streamed(gw)
  t.equal(text, 'Hello from second')
  t.match(failures(gw), [{ provider: 'first', kind: 'timeout' }], 'first was given up by its first-byte timeout, not hedged')
})

t.test('no hedge when MAX_ATTEMPTS leaves no room for a second call', async (t) => {
  const { gw, first, second } = await twoProviders(t, { HEDGE_FIRST_BYTE_MS: '50', MAX_ATTEMPTS: '1' })
  first.script({ content: 'Hello from first', thinkMs: 300 })
  const { text } = await streamed(gw)
  t.equal(text, 'Hello from first')
  t.equal(second.chatRequests().length, 0)
  await first.waitForNoInFlight()
})

t.test('a non-stream request is never hedged (its time is the whole generation)', async (t) => {
  const { gw, first, second } = await twoProviders(t, { HEDGE_FIRST_BYTE_MS: '50' })
  first.script({ fault: 'delay', ms: 300 })
  const completion = await gw.client.chat.completions.create({ model: 'm', messages: hi })
  t.equal(completion.choices[0].message.content, 'Hello from first')
  t.equal(second.chatRequests().length, 0)
})
