// The fallback decision as a table: each row is one rule of README "Fallback rules".
import t from 'tap'
import { decide, conclude, backoffMs, isContextLength, isUnreachable, MAX_COOLDOWN_WAITS, type DecideInput, type Decision } from '../../plugins/router/decide.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

type Overrides = {
  fault?: Partial<DecideInput['fault']>
  keys?: Partial<DecideInput['keys']>
} & Partial<Omit<DecideInput, 'fault' | 'keys'>>

function input(o: Overrides = {}): DecideInput {
  const { fault, keys, ...rest } = o
  return {
    fault: { kind: 'server', firstByteTimeout: false, unreachable: false, contextLength: false, phase: 'before_commit', ...fault },
    keys: { size: 1, keyed: true, anotherFree: false, freeInMs: undefined, ...keys },
    retriesDone: 0,
    next: 'same_model',
    laterModel: false,
    attemptsLeft: 5,
    waitsDone: 0,
    clientLeft: false,
    gatewayMade: false,
    canResume: true,
    limits: { retrySameProvider: 0, retryBaseDelayMs: 200, maxCooldownWaitMs: 5000 },
    random: 0.5,
    ...rest,
  }
}

const ROWS: Array<[string, Overrides, Decision]> = [
  // The client
  ['the client left: stop', { clientLeft: true }, { next: 'stop', reason: 'client_left' }],
  ['an aborted attempt is the client leaving', { fault: { kind: 'aborted' } }, { next: 'stop', reason: 'client_left' }],
  // Client faults
  ['a 400 is relayed at once', { fault: { kind: 'client', status: 400 } }, { next: 'stop', reason: 'relay_client_fault' }],
  ['a 400 is relayed even when another model is next', { fault: { kind: 'client', status: 400 }, next: 'other_model', laterModel: true }, { next: 'stop', reason: 'relay_client_fault' }],
  ['input too long: the next model (alias target, fallback) may have the room', { fault: { kind: 'client', contextLength: true }, next: 'same_model', laterModel: true }, { next: 'next_model' }],
  ['input too long and no other model: relayed', { fault: { kind: 'client', contextLength: true }, laterModel: false }, { next: 'stop', reason: 'relay_client_fault' }],
  ['a 400 to a gateway-made prefill: the same candidate gets the instruction form', { fault: { kind: 'client' }, gatewayMade: 'prefill' }, { next: 'retry_as_instruction' }],
  ['a 400 to a gateway-made instruction: never relayed, next candidate', { fault: { kind: 'client' }, gatewayMade: 'instruction' }, { next: 'next_candidate' }],
  // Rate limits
  ['429 with another key free: that key, at once', { fault: { kind: 'rate_limited' }, keys: { size: 2, anotherFree: true } }, { next: 'next_key' }],
  ['429, same model elsewhere: fail over at once', { fault: { kind: 'rate_limited', retryAfterMs: 1000 }, keys: { freeInMs: 1000 }, next: 'same_model' }, { next: 'next_candidate' }],
  ['429, only another model next, free soon: wait for the requested model', { fault: { kind: 'rate_limited' }, keys: { freeInMs: 2000 }, next: 'other_model', laterModel: true }, { next: 'wait', ms: 2000 }],
  ['429, only another model next, free later than MAX_COOLDOWN_WAIT_MS: the other model', { fault: { kind: 'rate_limited' }, keys: { freeInMs: 10_000 }, next: 'other_model', laterModel: true }, { next: 'next_candidate' }],
  ['429, another model next, waits used up: the other model', { fault: { kind: 'rate_limited' }, keys: { freeInMs: 100 }, next: 'other_model', waitsDone: MAX_COOLDOWN_WAITS }, { next: 'next_candidate' }],
  ['429 and nothing next: the loop concludes (wait or 429)', { fault: { kind: 'rate_limited' }, keys: { freeInMs: 100 }, next: 'none' }, { next: 'next_candidate' }],
  ['no key free for this model, another model next, free soon: wait', { fault: { kind: 'cooling_down' }, keys: { freeInMs: 300 }, next: 'other_model' }, { next: 'wait', ms: 300 }],
  // Keys
  ['401 with another key: that key', { fault: { kind: 'auth', status: 401 }, keys: { size: 2, anotherFree: true } }, { next: 'next_key' }],
  ['401 on a keyless provider: the provider is failing, next candidate', { fault: { kind: 'auth', status: 401 }, keys: { keyed: false, anotherFree: true } }, { next: 'next_candidate' }],
  // Timeouts
  ['first-byte timeout: never the same route again, even with retries allowed', { fault: { kind: 'timeout', firstByteTimeout: true }, limits: { retrySameProvider: 2, retryBaseDelayMs: 200, maxCooldownWaitMs: 5000 } }, { next: 'next_candidate' }],
  ['first-byte timeout with only another model next: still no retry', { fault: { kind: 'timeout', firstByteTimeout: true }, next: 'other_model', laterModel: true }, { next: 'next_candidate' }],
  // Provider faults
  ['5xx, single key, RETRY_SAME_PROVIDER left: same provider after back-off', { fault: { kind: 'server', status: 500 }, limits: { retrySameProvider: 2, retryBaseDelayMs: 200, maxCooldownWaitMs: 5000 } }, { next: 'same_provider', afterMs: 150 }],
  ['5xx, second retry: doubled back-off', { fault: { kind: 'server' }, retriesDone: 1, limits: { retrySameProvider: 2, retryBaseDelayMs: 200, maxCooldownWaitMs: 5000 } }, { next: 'same_provider', afterMs: 300 }],
  ['5xx, retries used up, same model elsewhere: next candidate', { fault: { kind: 'server' }, retriesDone: 2, limits: { retrySameProvider: 2, retryBaseDelayMs: 200, maxCooldownWaitMs: 5000 } }, { next: 'next_candidate' }],
  ['5xx, several keys: keys are not the problem, next candidate', { fault: { kind: 'server' }, keys: { size: 3 }, limits: { retrySameProvider: 2, retryBaseDelayMs: 200, maxCooldownWaitMs: 5000 } }, { next: 'next_candidate' }],
  ['5xx, same model elsewhere: fail over at once', { fault: { kind: 'overloaded', status: 503 }, next: 'same_model', laterModel: true }, { next: 'next_candidate' }],
  ['5xx, only another model next: the requested model gets one more try', { fault: { kind: 'overloaded', status: 503 }, next: 'other_model', laterModel: true }, { next: 'same_provider', afterMs: 150 }],
  ['5xx, only another model next, its one more try used: the other model', { fault: { kind: 'server' }, next: 'other_model', laterModel: true, retriesDone: 1 }, { next: 'next_candidate' }],
  ['a reset after sending, only another model next: one more try', { fault: { kind: 'connection' }, next: 'other_model', laterModel: true }, { next: 'same_provider', afterMs: 150 }],
  ['connection refused, only another model next: the provider is down, no retry', { fault: { kind: 'connection', unreachable: true }, next: 'other_model', laterModel: true }, { next: 'next_candidate' }],
  ['5xx with nothing next: no grace retry (RETRY_SAME_PROVIDER decides)', { fault: { kind: 'server' }, next: 'none', laterModel: false }, { next: 'next_candidate' }],
  ['404 (model gone here): next candidate', { fault: { kind: 'not_found', status: 404 } }, { next: 'next_candidate' }],
  ['402 (out of credit): next candidate', { fault: { kind: 'payment', status: 402 } }, { next: 'next_candidate' }],
  ['a local resource error (EMFILE): next candidate, nobody is blamed', { fault: { kind: 'local_resource' } }, { next: 'next_candidate' }],
  ['no attempts left: the loop concludes', { fault: { kind: 'server' }, attemptsLeft: 0, limits: { retrySameProvider: 3, retryBaseDelayMs: 200, maxCooldownWaitMs: 5000 } }, { next: 'next_candidate' }],
  // After commit
  ['after commit, resumable, attempts and a candidate left: resume on the next candidate', { fault: { kind: 'connection', phase: 'after_commit' } }, { next: 'next_candidate' }],
  ['after commit, a malformed event: resumed like a cut', { fault: { kind: 'malformed', phase: 'after_commit' } }, { next: 'next_candidate' }],
  ['after commit, nothing can continue: end honestly', { fault: { kind: 'timeout', phase: 'after_commit' }, next: 'none' }, { next: 'stop', reason: 'stream_failed' }],
  ['after commit, no attempts left: end honestly', { fault: { kind: 'stream_error', phase: 'after_commit' }, attemptsLeft: 0 }, { next: 'stop', reason: 'stream_failed' }],
  ['after commit, not resumable (resume off, half a live tool call): end honestly', { fault: { kind: 'connection', phase: 'after_commit' }, canResume: false }, { next: 'stop', reason: 'stream_failed' }],
  ['after commit, the client left: stop', { fault: { kind: 'connection', phase: 'after_commit' }, clientLeft: true }, { next: 'stop', reason: 'client_left' }],
]

for (const [rule, overrides, expected] of ROWS) {
  t.test(rule, async (t) => {
    t.same(decide(input(overrides)), expected)
  })
}

t.test('conclude: only rate-limited and soon free → wait; later → 429 with Retry-After; else 503', async (t) => {
  const base = { onlyRateLimited: true, freeInMs: 800, waitsDone: 0, attemptsLeft: 3, maxCooldownWaitMs: 5000 }
  t.same(conclude(base), { next: 'wait', ms: 800 })
  t.same(conclude({ ...base, freeInMs: 6500 }), { next: 'stop', reason: 'rate_limited', retryAfterS: 7 })
  t.same(conclude({ ...base, waitsDone: MAX_COOLDOWN_WAITS }), { next: 'stop', reason: 'rate_limited', retryAfterS: 1 })
  t.same(conclude({ ...base, attemptsLeft: 0 }), { next: 'stop', reason: 'rate_limited', retryAfterS: 1 })
  t.same(conclude({ ...base, onlyRateLimited: false }), { next: 'stop', reason: 'all_failed' })
})

t.test('back-off: equal jitter, never immediate, doubling', async (t) => {
  t.equal(backoffMs(1, 200, 0), 100)
  t.equal(backoffMs(1, 200, 0.999), 199.9)
  t.equal(backoffMs(3, 200, 0), 400)
})

t.test('input too long, as each upstream says it', async (t) => {
  const tooLong = [
    new UpstreamError('client', "HTTP 400: This model's maximum context length is 128000 tokens.", { status: 400, upstreamCode: 'context_length_exceeded' }), // OpenAI
    new UpstreamError('client', 'HTTP 400: prompt is too long: 210000 tokens > 200000 maximum', { status: 400, upstreamCode: 'invalid_request_error' }), // Anthropic
    new UpstreamError('client', 'HTTP 400: The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).', { status: 400 }), // Gemini
    new UpstreamError('client', 'HTTP 400: input length exceeds the context length', { status: 400 }), // Ollama
  ]
  for (const err of tooLong) t.ok(isContextLength(err), err.message)
  t.notOk(isContextLength(new UpstreamError('client', 'HTTP 400: Invalid value for temperature', { status: 400 })))
  t.notOk(isContextLength(new UpstreamError('client', 'HTTP 400: Your request was rejected by our content policy', { status: 400, upstreamCode: 'content_policy_violation' })), 'a refusal is relayed, not routed around')
  t.notOk(isContextLength(new UpstreamError('server', 'context length', { status: 500 })), 'only client faults')
})

t.test('unreachable: refused, DNS, connect timeout — not a reset after sending', async (t) => {
  const withCode = (code: string) => new UpstreamError('connection', `connection failed (${code})`, { cause: Object.assign(new Error(code), { code }) })
  t.ok(isUnreachable(withCode('ECONNREFUSED')))
  t.ok(isUnreachable(withCode('ENOTFOUND')))
  t.ok(isUnreachable(new UpstreamError('timeout', 'connect timeout')))
  t.notOk(isUnreachable(withCode('ECONNRESET')), 'a reset after the request was sent is that request and model')
  t.notOk(isUnreachable(new UpstreamError('timeout', 'no first chunk within 100 ms (first-byte timeout)')))
})
