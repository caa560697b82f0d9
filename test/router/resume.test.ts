// The router's side of mid-stream resume (issue 10 item 1): which candidate continues, with
// which strategy, what is logged, counted and marked, and how a gateway-made prefill refused
// with a 400 is handled (never relayed; the provider learns it). The answer's own coherence is
// CONTINUITY's test/continuity/resume.test.ts.
import t, { type Test } from 'tap'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startScriptedUpstream, framesFor, type ScriptedUpstream } from '../mocks/scripted-stream.ts'
import { planAnswer, type Reference } from '../mocks/continuation.ts'

const TEXT: Reference = { text: 'The breaker opened at noon, the pool cooled one key, and the stream went on to its very last word without a gap.' }
const messages = [{ role: 'user' as const, content: 'Tell the story.' }]
const cutAt = (n: number) => framesFor('openai', 'primary', planAnswer(TEXT, messages), false).textFrames[n]

/** One OpenAI-compatible provider serving two models, as a new user configures an alias chain. */
async function aliasChain(t: Test, env: Record<string, string> = {}): Promise<{ gw: Gateway; wall: ScriptedUpstream }> {
  const wall = await startScriptedUpstream({ wire: 'openai', reference: TEXT, models: ['primary', 'backup'] })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'wall', WALL_BASE_URL: wall.baseUrl, WALL_MODELS: 'primary,backup', RATE_LIMIT_MAX: '0',
    MODEL_ALIASES: 'chat=wall/primary|wall/backup',
    ...env,
  })
  t.teardown(async () => {
    await gw.close()
    await wall.close()
  })
  return { gw, wall }
}

async function read(gw: Gateway, model = 'chat') {
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages, stream: true }) })
  const raw = await res.text()
  const data = raw.split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice(6))
  const chunks = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d))
  const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('')
  return { res, raw, data, chunks, text }
}

async function metric(gw: Gateway, labels: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`tiergate_stream_resumes_total{${labels}}`))
  return line ? Number(line.split(' ').at(-1)) : 0
}

t.test('a cut on the primary model is continued on the alias\'s next model: one answer, logged, counted, marked', async (t) => {
  const { gw, wall } = await aliasChain(t)
  const events: unknown[] = []
  gw.app.events.on('resume', (e) => events.push(e))
  wall.scriptFor('primary', { cut: cutAt(6) })
  const { res, raw, data, chunks, text } = await read(gw)
  t.equal(res.status, 200)
  t.equal(text, TEXT.text, 'the whole answer, nothing repeated, nothing missing')
  t.equal(data.filter((d) => d === '[DONE]').length, 1, 'one [DONE]')
  t.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one id')
  t.same([...new Set(chunks.map((c) => c.model))], ['primary', 'backup'], 'each chunk names the model that wrote it')
  t.match(raw, /^: tiergate: resumed on wall\/backup via (prefill|instruction) after wall\/primary failed/m, 'an SSE comment marks the resume')
  t.match(events, [{ from: 'wall/primary', to: 'wall/backup', outcome: 'resumed' }])
  const log = gw.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'stream resumed on another candidate')
  t.match(log, { from: 'wall/primary', to: 'wall/backup', strategy: /^(prefill|instruction)$/ }, 'the log names both and the strategy')
  const strategy = (events[0] as { strategy: string }).strategy
  t.equal(await metric(gw, `strategy="${strategy}",outcome="resumed"`), 1, 'tiergate_stream_resumes_total')
})

t.test('a gateway-made prefill refused with a 400 is never relayed: the same candidate gets the instruction, and the provider learns it', async (t) => {
  // OpenAI-compatible servers default to 'learn': the first resume tries a prefill.
  const { gw, wall } = await aliasChain(t)
  wall.prefill = 'reject'
  wall.scriptFor('primary', { cut: cutAt(5) })
  const first = await read(gw)
  t.equal(first.text, TEXT.text, 'the answer is whole')
  const backupCalls = () => wall.chatRequests().filter((r) => r.body.model === 'backup')
  t.equal(backupCalls().length, 2, 'backup: the refused prefill, then the instruction')
  t.equal(backupCalls()[0].body.messages.at(-1).role, 'assistant', 'a prefill first')
  t.equal(backupCalls()[1].body.messages.at(-1).role, 'user', 'then the continue-instruction')
  t.equal(wall.prefillRejections, 1)

  wall.scriptFor('primary', { cut: cutAt(5) })
  const second = await read(gw)
  t.equal(second.text, TEXT.text)
  t.equal(backupCalls().length, 3, 'learned: the next resume goes straight to the instruction')
  t.equal(backupCalls()[2].body.messages.at(-1).role, 'user')
  t.equal(wall.prefillRejections, 1)
})

t.test('WALL_PREFILL=off: the instruction from the start', async (t) => {
  const { gw, wall } = await aliasChain(t, { WALL_PREFILL: 'off' })
  wall.scriptFor('primary', { cut: cutAt(5) })
  t.equal((await read(gw)).text, TEXT.text)
  const backup = wall.chatRequests().filter((r) => r.body.model === 'backup')
  t.equal(backup.length, 1)
  t.equal(backup[0].body.messages.at(-1).role, 'user')
})

t.test('every candidate failing after commit: an honest error event, no [DONE], counted as failed', async (t) => {
  const { gw, wall } = await aliasChain(t, { MAX_ATTEMPTS: '3' })
  wall.scriptFor('primary', { cut: cutAt(4) }, { cut: 2 })
  wall.scriptFor('backup', { cut: 2 })
  const { res, data } = await read(gw)
  t.equal(res.status, 200)
  t.notOk(data.includes('[DONE]'), 'no [DONE]: the answer does not look complete')
  const last = JSON.parse(data.at(-1)!)
  t.equal(last.error.type, 'api_error')
  t.equal(last.error.code, 'upstream_stream_failed')
  t.equal(await metric(gw, 'strategy="none",outcome="failed"'), 1)
  t.equal(wall.chatRequests().length, 3, 'stopped at MAX_ATTEMPTS=3, resume legs included')
})

t.test('STREAM_RESUME=0: nothing is resumed', async (t) => {
  const { gw, wall } = await aliasChain(t, { STREAM_RESUME: '0' })
  wall.scriptFor('primary', { cut: cutAt(4) })
  const { data } = await read(gw)
  t.notOk(data.includes('[DONE]'))
  t.equal(wall.chatRequests().length, 1)
})

t.test('a cut with the provider\'s only model: continued on the same route (the one candidate)', async (t) => {
  const { gw, wall } = await aliasChain(t)
  wall.scriptFor('primary', { cut: cutAt(3) })
  const { text, data } = await read(gw, 'primary')
  t.equal(text, TEXT.text)
  t.equal(data.at(-1), '[DONE]')
  t.same(wall.chatRequests().map((r) => r.body.model), ['primary', 'primary'])
})
