// Layered timeouts: connect, first byte (streams: to the first chunk), idle between chunks,
// total (bounds non-stream answers and whole streams), and the adaptive first-byte limit.
// Every limit that is not under test is set far above the test's own deadline (15 s), so a
// limit that does not work fails the test instead of slowing it down.
import t from 'tap'
import { startTiers, chat, streamedText, providerStatus, until, MODEL } from './setup.ts'
import { startSilentServer } from '../mocks/server.ts'
import { startGateway } from '../helpers/gateway.ts'
import { ADAPTIVE_GIVE_UP_AFTER } from '../../plugins/router/health.ts'

const FAR = '20000'
const failures = (logs: string[]) => logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'upstream attempt failed')

t.test('connect timeout: an upstream that never completes the handshake is abandoned for the next tier', async (t) => {
  const silent = await startSilentServer()
  t.teardown(() => silent.close())
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1, url: silent.httpsUrl }, { name: 'second', tier: 2 }], {
    FIRST_TIMEOUT_CONNECT_MS: '150', TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_TOTAL_MS: FAR,
  })
  for (const stream of [true, false]) {
    const res = await chat(gw, { stream })
    t.equal(res.status, 200)
    t.equal(res.headers.get('x-tiergate-provider'), 'second', `stream=${stream}`)
    t.equal(res.headers.get('x-tiergate-attempts'), '2')
  }
  t.same(failures(gw.logs).map((l) => [l.provider, l.kind, l.err]), [['first', 'timeout', 'connect timeout'], ['first', 'timeout', 'connect timeout']])
  t.equal(silent.connections, 2)
  await until(() => silent.openSockets() === 0, 3000, 'the half-open connections to be closed')
  await mocks.second.waitForNoInFlight()
})

t.test('connect timeout with no other tier: 503 naming it', async (t) => {
  const silent = await startSilentServer()
  t.teardown(() => silent.close())
  const { gw } = await startTiers(t, [{ name: 'first', tier: 1, url: silent.httpsUrl }], { TIMEOUT_CONNECT_MS: '150', TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_TOTAL_MS: FAR })
  const res = await chat(gw)
  t.equal(res.status, 503)
  t.match(res.json.error.message, /first \(tier 1\): connect timeout/)
})

// Limits under test are set on tier 1 only (<NAME>_TIMEOUT_*): a loaded test machine must not
// make the healthy tier 2 miss a 300 ms limit.
t.test('first byte (stream): a hang before the headers is abandoned for the next tier', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { FIRST_TIMEOUT_FIRST_BYTE_MS: '300', TIMEOUT_TOTAL_MS: FAR })
  mocks.first.script({ fault: 'hang' })
  const res = await chat(gw, { stream: true })
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.equal(res.frames.at(-1), '[DONE]')
  t.equal(streamedText(res.frames), 'Hello from second')
  t.match(failures(gw.logs)[0], { provider: 'first', kind: 'timeout' })
  t.ok(mocks.first.chatRequests()[0].aborted, 'the upstream saw the request abandoned')
  await mocks.first.waitForNoSockets()
})

t.test('first byte (stream): headers but no first chunk is the same timeout', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { FIRST_TIMEOUT_FIRST_BYTE_MS: '300', TIMEOUT_TOTAL_MS: FAR })
  mocks.first.script({ content: 'late', thinkMs: 10_000 })
  const res = await chat(gw, { stream: true })
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.match(failures(gw.logs)[0].err, /no first chunk within 300 ms \(first-byte timeout\)/)
  await mocks.first.waitForNoSockets()
})

t.test('the idle limit does not cut a model that is still thinking before its first chunk', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { TIMEOUT_IDLE_MS: '100', TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_TOTAL_MS: FAR })
  mocks.first.script({ content: 'worth the wait', thinkMs: 400 })
  const res = await chat(gw, { stream: true })
  t.equal(res.headers.get('x-tiergate-provider'), 'first', 'the first-byte limit, not the idle one, governs the wait for the first chunk')
  t.equal(streamedText(res.frames), 'worth the wait')
  t.equal(res.frames.at(-1), '[DONE]')
})

// With resume on (the default) a stall is continued on the next candidate: test/router/resume.test.ts.
t.test('idle (stream), STREAM_RESUME=0: a stall after the first chunk ends with an error event and no [DONE]', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { TIMEOUT_IDLE_MS: '300', TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_TOTAL_MS: FAR, STREAM_RESUME: '0' })
  mocks.first.script({ content: 'abcdefgh', pieces: 4, stallAfter: 3 })
  const res = await chat(gw, { stream: true })
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'first')
  t.not(res.frames.at(-1), '[DONE]')
  t.notOk(res.frames.includes('[DONE]'))
  const error = JSON.parse(res.frames.at(-1)!).error
  t.equal(error.code, 'upstream_timeout')
  t.match(error.message, /no chunk for 300 ms mid-stream \(idle timeout\)/)
  t.equal(streamedText(res.frames.slice(0, -1)), 'abcd', 'what came before the stall was passed on')
  t.equal(mocks.second.chatRequests().length, 0, 'no fallback once committed')
  await mocks.first.waitForNoSockets()
})

t.test('total (non-stream): a slow JSON answer is abandoned for the next tier', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { FIRST_TIMEOUT_TOTAL_MS: '400', TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_IDLE_MS: FAR })
  mocks.first.script({ fault: 'delay', ms: 10_000 })
  mocks.second.script({ fault: 'delay', ms: 50 })
  const res = await chat(gw)
  t.equal(res.status, 200)
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.match(failures(gw.logs)[0].err, /no complete answer within 400 ms \(total timeout\)/)
  t.ok(mocks.first.chatRequests()[0].aborted)
  await mocks.first.waitForNoSockets()
})

t.test('total (non-stream): headers and half a body, then silence, is the same timeout', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], { FIRST_TIMEOUT_TOTAL_MS: '400', TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_IDLE_MS: FAR })
  mocks.first.script({ fault: 'stall-body' })
  const res = await chat(gw)
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  await mocks.first.waitForNoSockets()
})

t.test('total (stream), STREAM_RESUME=0: bounds the whole stream, not only its start', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }], { TIMEOUT_TOTAL_MS: '500', TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_IDLE_MS: FAR, STREAM_RESUME: '0' })
  mocks.first.script({ content: 'x'.repeat(40), pieces: 40, gapMs: 40 })
  const res = await chat(gw, { stream: true })
  t.equal(res.status, 200)
  t.notOk(res.frames.includes('[DONE]'))
  t.match(JSON.parse(res.frames.at(-1)!).error.message, /total timeout/)
  await mocks.first.waitForNoSockets()
})

t.test('per-provider overrides: <NAME>_TIMEOUT_FIRST_BYTE_MS beats the global value', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], {
    TIMEOUT_FIRST_BYTE_MS: FAR, FIRST_TIMEOUT_FIRST_BYTE_MS: '250', TIMEOUT_TOTAL_MS: FAR,
  })
  mocks.first.script({ fault: 'hang' })
  const res = await chat(gw, { stream: true })
  t.equal(res.headers.get('x-tiergate-provider'), 'second')
  t.match(failures(gw.logs)[0].err, /within 250 ms/)
})

t.test('adaptive first byte: a provider suddenly 10× slower than usual is abandoned early for the next tier', async (t) => {
  // Static limit 20 s: only the adaptive limit can end the slow attempt before the test's 15 s deadline.
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], {
    TIMEOUT_FIRST_BYTE_MS: FAR, TIMEOUT_FIRST_BYTE_MIN_MS: '300', TIMEOUT_ADAPTIVE_FACTOR: '4', TIMEOUT_TOTAL_MS: '60000',
  })
  for (let i = 0; i < 12; i++) t.equal((await chat(gw, { stream: true })).headers.get('x-tiergate-provider'), 'first')
  const trained = (await providerStatus(gw, 'first')).health.firstByteP95Ms
  t.ok(trained !== null && trained < 500, `p95 of the fast first chunks: ${trained} ms`)

  mocks.first.script({ content: 'slow', thinkMs: 10_000 })
  const res = await chat(gw, { stream: true })
  t.equal(res.headers.get('x-tiergate-provider'), 'second', 'the next tier answered')
  const limit = Number(/no first chunk within (\d+) ms/.exec(failures(gw.logs).at(-1).err)![1])
  t.ok(limit >= 300 && limit <= 2000, `abandoned at ${limit} ms: p95 × 4, at least TIMEOUT_FIRST_BYTE_MIN_MS — not the static 20 s`)

  // One hang is one hang: the next request gets an early limit again.
  mocks.first.script({ content: 'slow', thinkMs: 10_000 })
  await chat(gw, { stream: true })
  const again = Number(/no first chunk within (\d+) ms/.exec(failures(gw.logs).at(-1).err)![1])
  t.ok(again <= 2000, `early again (${again} ms)`)
})

t.test('adaptive first byte: a provider that stays slower gets a probe with the static limit after 3 early cuts in a row with no first chunk', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }, { name: 'second', tier: 2 }], {
    TIMEOUT_FIRST_BYTE_MS: '5000', TIMEOUT_FIRST_BYTE_MIN_MS: '300', TIMEOUT_ADAPTIVE_FACTOR: '4', TIMEOUT_TOTAL_MS: FAR,
  })
  for (let i = 0; i < 12; i++) await chat(gw, { stream: true })
  for (let i = 0; i < ADAPTIVE_GIVE_UP_AFTER + 2; i++) mocks.first.script({ content: 'now slower', thinkMs: 2500 })
  const providers: string[] = []
  for (let i = 0; i < ADAPTIVE_GIVE_UP_AFTER; i++) providers.push((await chat(gw, { stream: true })).headers.get('x-tiergate-provider')!)
  t.same(providers, ['second', 'second', 'second'], 'cut early three times')
  // Two at once: one probe gets the static 5 s and is answered; the other is still cut early.
  const pair = await Promise.all([chat(gw, { stream: true }), chat(gw, { stream: true })])
  t.same(pair.map((r) => r.headers.get('x-tiergate-provider')).sort(), ['first', 'second'], 'one probe at a time')
  const early = failures(gw.logs).map((l) => Number(/no first chunk within (\d+) ms/.exec(l.err)?.[1])).filter((ms) => ms < 5000)
  t.equal(early.length, ADAPTIVE_GIVE_UP_AFTER + 1, `every cut but the probe's was early (${early.join(', ')} ms)`)
})

t.test('adaptive first byte is off for the last candidate: a slow answer beats no answer', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'first', tier: 1 }], {
    TIMEOUT_FIRST_BYTE_MS: '5000', TIMEOUT_FIRST_BYTE_MIN_MS: '100', TIMEOUT_ADAPTIVE_FACTOR: '2', TIMEOUT_TOTAL_MS: FAR,
  })
  for (let i = 0; i < 12; i++) await chat(gw, { stream: true })
  mocks.first.script({ content: 'slow but here', thinkMs: 500 })
  const res = await chat(gw, { stream: true })
  t.equal(res.status, 200)
  t.equal(streamedText(res.frames), 'slow but here')
  t.equal(res.frames.at(-1), '[DONE]')
})

t.test('a bad timeout variable stops start-up with its name', async (t) => {
  await t.rejects(startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: 'http://127.0.0.1:9/v1', FIRST_MODELS: MODEL, FIRST_TIMEOUT_IDLE_MS: 'soon' }), /FIRST_TIMEOUT_IDLE_MS/)
})
