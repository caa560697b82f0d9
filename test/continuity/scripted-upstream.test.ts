// The scripted mock itself: continuations derived from the request, and faults that really
// happen on the wire (a destroyed socket, an open silent one, an in-band error, a bad event).
import t from 'tap'
import { planAnswer, tokens } from '../mocks/continuation.ts'
import { startScriptedUpstream } from '../mocks/scripted-stream.ts'

const reference = { text: 'The quick brown fox jumps over the lazy dog.', toolCalls: [{ id: 'call_1', name: 'look', arguments: '{"at":"dog"}' }] }
const user = { role: 'user', content: 'Tell me.' }

const plans: Array<{ name: string; messages: any[]; style?: 'continue' | 'start-over' | 'repeat-last-words'; mode: string; text: string }> = [
  { name: 'fresh', messages: [user], mode: 'fresh', text: reference.text },
  { name: 'prefill continues', messages: [user, { role: 'assistant', content: 'The quick brown' }], mode: 'prefill', text: ' fox jumps over the lazy dog.' },
  { name: 'prefill as Anthropic text blocks', messages: [user, { role: 'assistant', content: [{ type: 'text', text: 'The quick' }] }], mode: 'prefill', text: ' brown fox jumps over the lazy dog.' },
  { name: 'instruction continues', messages: [user, { role: 'assistant', content: 'The quick brown ' }, { role: 'user', content: 'Continue exactly where it stopped.' }], mode: 'instruction', text: 'fox jumps over the lazy dog.' },
  { name: 'start-over style', messages: [user, { role: 'assistant', content: 'The quick brown' }], style: 'start-over', mode: 'prefill', text: reference.text },
  { name: 'repeat-last-words style', messages: [user, { role: 'assistant', content: 'The quick brown fox' }], style: 'repeat-last-words', mode: 'prefill', text: 'quick brown fox jumps over the lazy dog.' },
  { name: 'a partial the model never wrote: the whole answer', messages: [user, { role: 'assistant', content: 'Something else' }], mode: 'prefill', text: reference.text },
]

for (const p of plans) {
  t.test(`planAnswer: ${p.name}`, async (t) => {
    const plan = planAnswer(reference, p.messages, p.style)
    t.equal(plan.mode, p.mode)
    t.equal(plan.text, p.text)
    t.same(plan.toolCalls, reference.toolCalls)
  })
}

t.test('tokens keep every byte', async (t) => {
  for (const text of ['a b  c\n\nd ', ' lead', 'x']) {
    t.equal(tokens(text).join(''), text)
    t.equal(tokens(text, 'trailing-space').join(''), text)
  }
  t.same(tokens('a b ', 'trailing-space'), ['a ', 'b '])
})

async function rawStream(url: string, body: unknown): Promise<{ text: string; error?: string }> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return { text: await res.text() }
  } catch (err) {
    return { text: '', error: String((err as Error).cause ?? err) }
  }
}

t.test('OpenAI wire: a complete stream, then a cut one, an in-band error, a malformed event', async (t) => {
  const up = await startScriptedUpstream({ wire: 'openai', reference })
  t.teardown(() => up.close())
  const body = { model: 'primary', stream: true, messages: [user] }
  const url = `${up.baseUrl}/chat/completions`
  const full = await rawStream(url, body)
  t.match(full.text, /data: \[DONE\]\n\n$/)
  t.match(full.text, /"finish_reason":"tool_calls"/)

  up.script({ cut: 3 })
  const cut = await rawStream(url, body)
  t.ok(cut.error || !cut.text.includes('[DONE]'), 'no [DONE] on a cut stream')

  up.script({ error: 2 })
  const errored = await rawStream(url, body)
  t.match(errored.text, /data: \{"error":\{"message":/)
  t.notMatch(errored.text, /\[DONE\]/)

  up.script({ malformed: 2 })
  const malformed = await rawStream(url, body)
  t.match(malformed.text, /"content":\n\n/)
  t.match(malformed.text, /\[DONE\]/, 'the stream goes on after the bad event')
})

t.test('Anthropic wire: message_stop at the end, `event: error` overloaded_error mid-stream, prefill rules', async (t) => {
  const up = await startScriptedUpstream({ wire: 'anthropic', reference })
  t.teardown(() => up.close())
  const url = `${up.baseUrl}/v1/messages`
  const body = { model: 'claude', max_tokens: 100, stream: true, messages: [user] }
  t.match((await rawStream(url, body)).text, /event: message_stop\n/)
  up.script({ error: 4 })
  const errored = (await rawStream(url, body)).text
  t.match(errored, /event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error"/)
  t.notMatch(errored, /message_stop/)
  const trailing = await fetch(url, { method: 'POST', body: JSON.stringify({ ...body, messages: [user, { role: 'assistant', content: 'The quick ' }] }) })
  t.equal(trailing.status, 400, 'a final assistant message ending in whitespace is rejected, as Anthropic does')
  up.prefill = 'reject'
  const rejected = await fetch(url, { method: 'POST', body: JSON.stringify({ ...body, messages: [user, { role: 'assistant', content: 'The quick' }] }) })
  t.equal(rejected.status, 400)
  t.equal(up.prefillRejections, 1)
})

t.test('a stall keeps the socket open and silent', async (t) => {
  const up = await startScriptedUpstream({ wire: 'openai', reference })
  t.teardown(() => up.close())
  up.script({ stall: 2 })
  const controller = new AbortController()
  const res = await fetch(`${up.baseUrl}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', stream: true, messages: [user] }), signal: controller.signal })
  const reader = res.body!.getReader()
  let seen = ''
  while (!seen.includes('"content":"The"')) seen += new TextDecoder().decode((await reader.read()).value)
  t.equal(up.inFlight(), 1, 'the stalled response is still open')
  controller.abort()
  await up.waitForNoInFlight()
})
