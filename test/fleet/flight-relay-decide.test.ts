// The flight relay's pure parts: its decisions (plugins/cache/relay-decide.ts), table-driven,
// and its entries (plugins/cache/relay-entry.ts): what goes into Redis, and what comes back out.
import t from 'tap'
import { attachDecision, keepRelayedCall, relayBudget, silenceDecision, type LockHolder } from '../../plugins/cache/relay-decide.ts'
import { decodeEntry, encodeEntry, errorFromRelay, relayedError, type RelayEntry } from '../../plugins/cache/relay-entry.ts'
import { blockMsFor } from '../../plugins/cache/relay-reader.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'
import type { ChatChunk } from '../../providers/contract.ts'

const chunk: ChatChunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] }
const head: RelayEntry = { type: 'head', head: { provider: 'upstream', tier: 1, attempts: 1 } }
const chunks: RelayEntry = { type: 'chunks', chunks: [chunk] }

t.test('attachDecision: follow a committed relay, wait for one not started, never join a failed one', async (t) => {
  const table: Array<[string, Array<RelayEntry | undefined>, ReturnType<typeof attachDecision>]> = [
    ['nothing yet (the owner has not committed, or answers JSON)', [], 'not_yet'],
    ['a head', [head], 'follow'],
    ['a head and chunks', [head, chunks], 'follow'],
    ['the whole answer', [head, chunks, { type: 'end' }], 'follow'],
    ['failed after commit', [head, chunks, { type: 'fail', error: {} }], 'never'],
    ['cut past CACHE_MAX_BYTES', [head, chunks, { type: 'cut', reason: 'too_large' }], 'never'],
    ['relaying failed', [head, { type: 'cut', reason: 'relay_failed' }], 'never'],
    ['an entry this relay does not write', [head, undefined], 'never'],
    ['chunks without a head first', [chunks], 'not_yet'],
  ]
  for (const [what, entries, expected] of table) t.equal(attachDecision(entries), expected, what)
})

t.test('silenceDecision: a silent relay is waited on while its leader holds the lock, and given up once it does not', async (t) => {
  const table: Array<[LockHolder, number, ReturnType<typeof silenceDecision>]> = [
    ['leader', 10, 'wait'],
    ['leader', 60_000, 'wait'],
    ['none', 10, 'vanished'],
    ['other', 10, 'vanished'],
    ['unknown', 10, 'wait'],
    ['unknown', 999, 'wait'],
    ['unknown', 1_000, 'vanished'],
  ]
  for (const [holder, silentForMs, expected] of table) t.equal(silenceDecision({ holder, silentForMs, boundMs: 1_000 }), expected, `${holder}, silent ${silentForMs} ms`)
})

t.test('keepRelayedCall: the leader\'s call goes on while anyone reads it, here or elsewhere', async (t) => {
  const table: Array<[number, boolean | 'unknown', ReturnType<typeof keepRelayedCall>]> = [
    [1, false, 'keep'],
    [3, true, 'keep'],
    [0, true, 'keep'],
    [0, 'unknown', 'keep'],
    [0, false, 'abort'],
  ]
  for (const [localClients, followed, expected] of table) t.equal(keepRelayedCall({ localClients, followed }), expected, `${localClients} local client(s), followed: ${followed}`)
})

t.test('relayBudget: within CACHE_MAX_BYTES the relay sends, past it it is cut', async (t) => {
  const table: Array<[number, number, ReturnType<typeof relayBudget>]> = [
    [0, 100, 'send'],
    [900, 100, 'send'],
    [900, 101, 'cut'],
    [0, 1_001, 'cut'],
  ]
  for (const [sentBytes, nextBytes, expected] of table) t.equal(relayBudget({ sentBytes, nextBytes, maxBytes: 1_000 }), expected, `${sentBytes} + ${nextBytes}`)
})

t.test('blockMsFor: a read block well inside REDIS_TIMEOUT_MS, or none', async (t) => {
  const table: Array<[number, number]> = [[200, 100], [1_000, 100], [50, 25], [20, 10], [19, 0], [1, 0]]
  for (const [timeoutMs, expected] of table) t.equal(blockMsFor(timeoutMs), expected, `REDIS_TIMEOUT_MS=${timeoutMs}`)
})

t.test('entries round-trip through their two fields; anything else decodes as undefined', async (t) => {
  const entries: RelayEntry[] = [head, chunks, { type: 'end' }, { type: 'fail', error: { kind: 'server', message: 'boom', status: 500 } }, { type: 'cut', reason: 'too_large' }]
  for (const entry of entries) {
    const { type, data } = encodeEntry(entry)
    t.same(decodeEntry(['t', type, 'd', data]), entry, type)
  }
  const bad: string[][] = [[], ['t', 'head'], ['t', 'head', 'd', '{'], ['t', 'head', 'd', '{"provider":1}'], ['t', 'chunks', 'd', '[1]'], ['t', 'cut', 'd', '{"reason":"why"}'], ['t', 'other', 'd', '{}'], ['t', 'fail', 'd', '{"kind":"server","message":{"text":"x"}}'], ['t', 'fail', 'd', '{"kind":7}'], ['t', 'fail', 'd', '{"status":"500"}']]
  for (const fields of bad) t.equal(decodeEntry(fields), undefined, JSON.stringify(fields))
})

t.test('a chunk with adapter symbols travels as plain JSON', async (t) => {
  const raw = Symbol.for('not-carried')
  const withSymbol = { ...chunk, [raw]: 'secret bytes' }
  const { data } = encodeEntry({ type: 'chunks', chunks: [withSymbol] })
  t.notMatch(data, /secret bytes/)
})

t.test('failures: an UpstreamError travels as the stream encoders show it; any other error as nothing', async (t) => {
  const upstream = new UpstreamError('timeout', 'the upstream went silent (idle timeout)', { status: 504, upstreamCode: 'slow' })
  const relayed = relayedError(upstream)
  t.same(relayed, { kind: 'timeout', message: 'the upstream went silent (idle timeout)', status: 504, upstreamCode: 'slow' })
  const back = errorFromRelay(relayed, 'upstream')
  t.ok(back instanceof UpstreamError)
  t.match(back, { kind: 'timeout', message: upstream.message, status: 504, upstreamCode: 'slow', provider: 'upstream' })
  t.same(relayedError(new Error('internal detail: /srv/app.ts line 3')), {}, 'no text of an internal error leaves')
  t.notOk(errorFromRelay({}, 'upstream') instanceof UpstreamError, 'shown as the generic failure, as the leader showed it')
})
