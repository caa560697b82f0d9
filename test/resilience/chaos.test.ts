// The chaos matrix: every way an upstream fails × stream / non-stream × a healthy next tier /
// no next tier. Each cell runs on a fresh gateway (no breaker or cool-down carried over) and
// asserts the exact outcome a client sees:
//   fallback     — 200 from tier 2 with the right x-tiergate-* headers and the whole answer;
//   unavailable  — 503 all_providers_failed naming tier 1's fault;
//   rate_limited — 429 all_providers_failed with Retry-After;
//   cut          — the stream was committed: with resume on (the default) it is continued —
//                  on tier 2, or on tier 1 again when it is the only candidate — and ends with
//                  [DONE] and no error event; with STREAM_RESUME=0: 200, tier 1's chunks, an
//                  error event, no [DONE].
// Never a hang (small timeouts, a deadline on every request), never a 200 that hides a failure,
// never an upstream request left running or a socket left busy (checked on every mock after
// every cell), and nothing open at all once the gateway has closed.
import t, { type Test } from 'tap'
import type { Step } from '../mocks/openai.ts'
import { refusedUrl } from '../mocks/server.ts'
import { startTiers, chat, streamedText, type ChatResult } from './setup.ts'

// Small limits on tier 1 only, which always misbehaves here; tier 2 keeps the defaults, so a
// loaded test machine cannot make the healthy tier miss them.
const TIMEOUTS = {
  FIRST_TIMEOUT_CONNECT_MS: '2000',
  FIRST_TIMEOUT_FIRST_BYTE_MS: '1000',
  FIRST_TIMEOUT_IDLE_MS: '500',
  FIRST_TIMEOUT_TOTAL_MS: '1500',
  MAX_COOLDOWN_WAIT_MS: '100',
}

type Expect =
  | { kind: 'before'; reason: RegExp } // fails before anything was committed
  | { kind: 'rate_limited'; retryAfter: string; reason: RegExp }
  | { kind: 'cut'; code: 'upstream_stream_failed' | 'upstream_timeout'; reason: RegExp }

interface Mode {
  /** What tier 1 does; 'refused' = nothing listens on its port. */
  step: Step | 'refused'
  expect: Expect
}

interface Row {
  fault: string
  stream: Mode
  /** Absent when a JSON answer has no such phase (an error event mid-stream). */
  json?: Mode
}

const CHUNK_ERROR = { errorAfter: 2 }

const ROWS: Row[] = [
  {
    fault: '429 with retry-after',
    stream: { step: { fault: 'status', status: 429, headers: { 'retry-after': '30' } }, expect: { kind: 'rate_limited', retryAfter: '30', reason: /HTTP 429/ } },
    json: { step: { fault: 'status', status: 429, headers: { 'retry-after': '30' } }, expect: { kind: 'rate_limited', retryAfter: '30', reason: /HTTP 429/ } },
  },
  {
    fault: '429 without retry-after',
    stream: { step: { fault: 'status', status: 429 }, expect: { kind: 'rate_limited', retryAfter: '10', reason: /HTTP 429/ } },
    json: { step: { fault: 'status', status: 429 }, expect: { kind: 'rate_limited', retryAfter: '10', reason: /HTTP 429/ } },
  },
  ...[500, 503, 529].map((status) => ({
    fault: String(status),
    stream: { step: { fault: 'status' as const, status }, expect: { kind: 'before' as const, reason: new RegExp(`HTTP ${status}`) } },
    json: { step: { fault: 'status' as const, status }, expect: { kind: 'before' as const, reason: new RegExp(`HTTP ${status}`) } },
  })),
  {
    fault: 'connection refused',
    stream: { step: 'refused', expect: { kind: 'before', reason: /connection (to \S+ )?failed \(ECONNREFUSED\)/ } },
    json: { step: 'refused', expect: { kind: 'before', reason: /connection (to \S+ )?failed \(ECONNREFUSED\)/ } },
  },
  {
    fault: 'reset before headers',
    stream: { step: { fault: 'reset' }, expect: { kind: 'before', reason: /connection (to \S+ )?failed|socket/i } },
    json: { step: { fault: 'reset' }, expect: { kind: 'before', reason: /connection (to \S+ )?failed|socket/i } },
  },
  {
    fault: 'reset mid-stream / mid-body',
    stream: { step: { content: 'abcdefgh', pieces: 4, cutAfter: 3 }, expect: { kind: 'cut', code: 'upstream_stream_failed', reason: /failed after it had started/ } },
    json: { step: { fault: 'cut-body' }, expect: { kind: 'before', reason: /connection (to \S+ )?failed|socket|terminated/i } },
  },
  {
    fault: 'hang before the first byte',
    stream: { step: { fault: 'hang' }, expect: { kind: 'before', reason: /no first chunk within 1000 ms \(first-byte timeout\)/ } },
    json: { step: { fault: 'hang' }, expect: { kind: 'before', reason: /no complete answer within 1500 ms \(total timeout\)/ } },
  },
  {
    fault: 'stall mid-stream / mid-body',
    stream: { step: { content: 'abcdefgh', pieces: 4, stallAfter: 3 }, expect: { kind: 'cut', code: 'upstream_timeout', reason: /no chunk for 500 ms mid-stream \(idle timeout\)/ } },
    json: { step: { fault: 'stall-body' }, expect: { kind: 'before', reason: /no complete answer within 1500 ms \(total timeout\)/ } },
  },
  {
    fault: 'malformed SSE / JSON that is not a completion',
    stream: { step: { content: 'abcdefgh', malformedAfter: 0 }, expect: { kind: 'before', reason: /malformed SSE data/ } },
    json: { step: { fault: 'status', status: 200, body: { object: 'list', data: [] } }, expect: { kind: 'before', reason: /no choices array/ } },
  },
  {
    fault: 'malformed SSE after the first chunk',
    stream: { step: { content: 'abcdefgh', pieces: 4, malformedAfter: 3 }, expect: { kind: 'cut', code: 'upstream_stream_failed', reason: /malformed SSE data/ } },
  },
  {
    fault: 'error event after the first chunk',
    stream: { step: { content: 'abcdefgh', pieces: 4, ...CHUNK_ERROR }, expect: { kind: 'cut', code: 'upstream_stream_failed', reason: /error inside the stream/ } },
  },
  {
    fault: 'truncated JSON',
    stream: { step: { fault: 'truncated-json' }, expect: { kind: 'before', reason: /expected sse but got Content-Type "application\/json"/ } },
    json: { step: { fault: 'truncated-json' }, expect: { kind: 'before', reason: /truncated or invalid JSON/ } },
  },
  {
    fault: 'wrong content-type',
    stream: { step: { fault: 'wrong-content-type' }, expect: { kind: 'before', reason: /expected sse but got Content-Type "text\/plain"/ } },
    json: { step: { fault: 'wrong-content-type' }, expect: { kind: 'before', reason: /expected json but got Content-Type "text\/plain"/ } },
  },
  {
    fault: 'HTML error page',
    stream: { step: { fault: 'html' }, expect: { kind: 'before', reason: /HTTP 502: an HTML error page/ } },
    json: { step: { fault: 'html' }, expect: { kind: 'before', reason: /HTTP 502: an HTML error page/ } },
  },
]

function assertOutcome(t: Test, res: ChatResult, stream: boolean, expect: Expect, nextTier: boolean, gatewayLogs: string[], resume: boolean) {
  const failureLog = gatewayLogs.map((l) => JSON.parse(l)).find((l) => l.msg === 'upstream attempt failed' && l.provider === 'first')
  if (expect.kind === 'cut' && resume) {
    t.equal(res.status, 200, 'committed before the fault')
    t.equal(res.headers.get('x-tiergate-provider'), 'first')
    t.equal(res.frames.at(-1), '[DONE]', 'resumed: the answer ends cleanly')
    t.notOk(res.frames.some((f) => f.includes('"error"')), 'no error event')
    const text = streamedText(res.frames)
    t.ok(text.startsWith('ab'), `tier 1's chunks came first (${text})`)
    t.ok(text.endsWith(nextTier ? 'Hello from second' : 'Hello from first'), `the continuation came from ${nextTier ? 'tier 2' : 'tier 1 again, the only candidate'} (${text})`)
    const resumed = gatewayLogs.map((l) => JSON.parse(l)).find((l) => l.msg === 'stream resumed on another candidate')
    t.match(resumed, { from: 'first/gpt-4o-mini', to: nextTier ? 'second/gpt-4o-mini' : 'first/gpt-4o-mini', outcome: 'resumed' }, 'the resume is logged with both providers')
    t.equal(typeof resumed?.err, 'string', "the log names tier 1's fault")
    return
  }
  if (expect.kind === 'cut') {
    t.equal(res.status, 200, 'committed before the fault')
    t.equal(res.headers.get('x-tiergate-provider'), 'first')
    t.equal(res.headers.get('x-tiergate-attempts'), '1')
    t.notOk(res.frames.includes('[DONE]'), 'no [DONE]: the answer does not look complete')
    const last = JSON.parse(res.frames.at(-1)!)
    t.same(Object.keys(last.error).sort(), ['code', 'message', 'param', 'type'])
    t.equal(last.error.type, 'api_error')
    t.equal(last.error.code, expect.code)
    t.match(last.error.message, expect.reason)
    t.ok(streamedText(res.frames.slice(0, -1)).length > 0, "tier 1's chunks came first")
    return
  }
  t.match(failureLog?.err, expect.reason, "the gateway log names tier 1's fault")
  if (nextTier) {
    t.equal(res.status, 200)
    t.equal(res.headers.get('x-tiergate-provider'), 'second')
    t.equal(res.headers.get('x-tiergate-tier'), '2')
    t.equal(res.headers.get('x-tiergate-attempts'), '2')
    if (stream) {
      t.equal(res.frames.at(-1), '[DONE]')
      t.equal(streamedText(res.frames), 'Hello from second', 'only tier 2 content, nothing from the failed attempt')
    } else {
      t.equal(res.json.choices[0].message.content, 'Hello from second')
    }
    return
  }
  t.same(Object.keys(res.json?.error ?? {}).sort(), ['code', 'message', 'param', 'type'], 'an OpenAI error envelope')
  t.equal(res.json.error.code, 'all_providers_failed')
  t.match(res.json.error.message, /first \(tier 1\)/)
  if (expect.kind === 'rate_limited') {
    t.equal(res.status, 429)
    t.equal(res.json.error.type, 'rate_limit_error')
    t.equal(res.headers.get('retry-after'), expect.retryAfter)
  } else {
    t.equal(res.status, 503)
    t.equal(res.json.error.type, 'service_unavailable')
    t.match(res.json.error.message, expect.reason)
    t.equal(res.headers.get('retry-after'), null)
  }
}

for (const row of ROWS) {
  t.test(row.fault, async (t) => {
    for (const [stream, mode] of [[true, row.stream], [false, row.json]] as const) {
      if (!mode) continue
      for (const [nextTier, resume] of [[true, true], [false, true], ...(mode.expect.kind === 'cut' ? [[true, false], [false, false]] : [])]) {
        t.test(`${stream ? 'stream' : 'non-stream'}, ${nextTier ? 'healthy next tier' : 'no next tier'}${resume ? '' : ', STREAM_RESUME=0'}`, async (t) => {
          const firstUrl = mode.step === 'refused' ? `${await refusedUrl()}/v1` : undefined
          const specs = [{ name: 'first', tier: 1, keys: ['sk-chaos-first-0001'], url: firstUrl }]
          if (nextTier) specs.push({ name: 'second', tier: 2, keys: ['sk-chaos-second-0002'], url: undefined })
          const { gw, mocks } = await startTiers(t, specs, { ...TIMEOUTS, STREAM_RESUME: resume ? '1' : '0' })
          if (mode.step !== 'refused') mocks.first.script(mode.step)

          const res = await chat(gw, { stream, signal: AbortSignal.timeout(8000) })
          assertOutcome(t, res, stream, mode.expect, nextTier, gw.logs, resume)
          t.notMatch(res.text, /sk-chaos/, 'no key in the answer')

          for (const [name, mock] of Object.entries(mocks)) {
            await mock.waitForNoInFlight().catch((err) => t.fail(`${name}: ${err.message}`))
            await mock.waitForOnlyKeepAlive().catch((err) => t.fail(`${name}: ${err.message}`))
          }
          await gw.close()
          for (const [name, mock] of Object.entries(mocks)) await mock.waitForNoSockets().catch((err) => t.fail(`${name}: ${err.message}`))
        })
      }
    }
  })
}
