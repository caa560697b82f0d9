// The fallback decision, alone and pure: given one failed upstream attempt and what the router
// knows at that moment (the key pool, the candidates still to try, attempts left, whether the
// request was made by the gateway itself), what happens next. plugins/router.ts drives it in
// one flat loop; test/router/decide.test.ts holds its table. README "Fallback rules" is the
// same table in words.
import type { FaultKind, UpstreamError } from '../../providers/upstream-error.ts'

/** How many times one request may wait for a cooling key before moving on or answering 429. */
export const MAX_COOLDOWN_WAITS = 2
/** The requested model's "short chance" before a different model answers: one same-provider retry. */
export const SAME_MODEL_GRACE_RETRIES = 1

export interface Fault {
  kind: FaultKind
  status?: number
  retryAfterMs?: number
  /** Abandoned while waiting for the first chunk (first-byte timeout). */
  firstByteTimeout: boolean
  /** The provider could not be reached at all (refused, DNS, TLS, connect timeout). */
  unreachable: boolean
  /** An upstream 400 saying the input is too long for this model. */
  contextLength: boolean
  /** Before commit: nothing reached the client. After: the client holds part of the answer. */
  phase: 'before_commit' | 'after_commit'
}

export interface DecideInput {
  fault: Fault
  /** The provider's key pool for this model, after the fault's own effect (a 429 cooled its key). */
  keys: { size: number; keyed: boolean; anotherFree: boolean; freeInMs: number | undefined }
  /** Retries already made on this candidate. */
  retriesDone: number
  /** The next candidate that could answer serves the same model (another provider) or only another one. */
  next: 'same_model' | 'other_model' | 'none'
  /** Some later candidate serves a different model (alias target, per-request fallback). */
  laterModel: boolean
  attemptsLeft: number
  waitsDone: number
  clientLeft: boolean
  /** A resume continuation (the gateway wrote it, so a 400 is never the client's fault). */
  gatewayMade: false | 'prefill' | 'instruction'
  /** After commit: the answer so far can be continued (resume on, no half tool call given out). */
  canResume: boolean
  limits: { retrySameProvider: number; retryBaseDelayMs: number; maxCooldownWaitMs: number }
  /** A number in [0, 1) for the jitter (Math.random in the router, fixed in tests). */
  random: number
}

export type StopReason = 'relay_client_fault' | 'client_left' | 'stream_failed'

export type Decision =
  | { next: 'next_key' }
  | { next: 'same_provider'; afterMs: number }
  | { next: 'next_candidate' }
  | { next: 'next_model' }
  | { next: 'retry_as_instruction' }
  | { next: 'wait'; ms: number }
  | { next: 'stop'; reason: StopReason }

/** Faults of the provider's own making that a second try may not repeat. */
const TRANSIENT: ReadonlySet<FaultKind> = new Set(['server', 'overloaded', 'timeout', 'connection', 'malformed', 'stream_error'])
/** The "short chance" is for blips (a 5xx, a reset), not for a provider that is down or silent. */
const BLIP: ReadonlySet<FaultKind> = new Set(['server', 'overloaded', 'connection'])

/** Exponential back-off with equal jitter: half fixed, half random, never an immediate retry. */
export function backoffMs(retry: number, baseMs: number, random: number): number {
  const backoff = baseMs * 2 ** (retry - 1)
  return backoff / 2 + random * (backoff / 2)
}

export function decide(input: DecideInput): Decision {
  const { fault, keys, limits } = input
  if (input.clientLeft || fault.kind === 'aborted') return { next: 'stop', reason: 'client_left' }

  if (fault.phase === 'after_commit') {
    // The client holds part of one answer: continue it elsewhere, or end it honestly.
    if (!input.canResume || input.attemptsLeft <= 0 || input.next === 'none') return { next: 'stop', reason: 'stream_failed' }
    return { next: 'next_candidate' }
  }

  if (fault.kind === 'client') {
    // A continuation the gateway wrote: a provider that refuses a prefill gets the instruction
    // form; any other refusal is the gateway's problem, never relayed as the client's.
    if (input.gatewayMade === 'prefill') return { next: 'retry_as_instruction' }
    if (input.gatewayMade === 'instruction') return { next: 'next_candidate' }
    // Too long for this model: another model may have the room; the same model elsewhere will not.
    if (fault.contextLength && input.laterModel) return { next: 'next_model' }
    return { next: 'stop', reason: 'relay_client_fault' }
  }

  if (input.attemptsLeft <= 0) return { next: 'next_candidate' } // the loop concludes: nothing more may be called

  if (fault.kind === 'rate_limited' || fault.kind === 'cooling_down') {
    if (keys.anotherFree) return { next: 'next_key' }
    if (input.next === 'same_model') return { next: 'next_candidate' }
    // Only another model (or nothing) is next: wait for the requested model if it is soon free.
    const freeInMs = keys.freeInMs
    if (input.next === 'other_model' && freeInMs !== undefined && freeInMs <= limits.maxCooldownWaitMs && input.waitsDone < MAX_COOLDOWN_WAITS) {
      return { next: 'wait', ms: freeInMs }
    }
    return { next: 'next_candidate' }
  }

  if (fault.kind === 'auth') return keys.keyed && keys.anotherFree ? { next: 'next_key' } : { next: 'next_candidate' }

  // A silent provider is not asked again: that only multiplies the wait.
  if (fault.firstByteTimeout) return { next: 'next_candidate' }

  if (TRANSIENT.has(fault.kind)) {
    const retry = input.retriesDone + 1
    if (keys.size === 1 && input.retriesDone < limits.retrySameProvider) {
      return { next: 'same_provider', afterMs: backoffMs(retry, limits.retryBaseDelayMs, input.random) }
    }
    // Before a different model answers, a blip on the requested one gets one more try.
    const blip = BLIP.has(fault.kind) && !fault.unreachable
    if (input.next !== 'same_model' && input.laterModel && blip && input.retriesDone < SAME_MODEL_GRACE_RETRIES) {
      return { next: 'same_provider', afterMs: backoffMs(retry, limits.retryBaseDelayMs, input.random) }
    }
  }
  // not_found, payment, unsupported, breaker_open, local_resource, and transient faults out of retries.
  return { next: 'next_candidate' }
}

export type Conclusion =
  | { next: 'wait'; ms: number }
  | { next: 'stop'; reason: 'rate_limited'; retryAfterS: number }
  | { next: 'stop'; reason: 'all_failed' }

/**
 * Every candidate was tried or skipped. If the ones that could answer were only rate-limited,
 * wait for the first free key when it is soon, else tell the client when to come back.
 */
export function conclude(input: { onlyRateLimited: boolean; freeInMs: number; waitsDone: number; attemptsLeft: number; maxCooldownWaitMs: number }): Conclusion {
  if (!input.onlyRateLimited) return { next: 'stop', reason: 'all_failed' }
  const waitMs = Math.max(0, input.freeInMs)
  if (waitMs <= input.maxCooldownWaitMs && input.waitsDone < MAX_COOLDOWN_WAITS && input.attemptsLeft > 0) return { next: 'wait', ms: waitMs }
  return { next: 'stop', reason: 'rate_limited', retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) }
}

/** Upstream wordings of "the input is too long for this model" (OpenAI, Anthropic, Gemini, Ollama, vLLM). */
const CONTEXT_LENGTH = /context_length_exceeded|context[ _]length|prompt is too long|input is too long|maximum context|exceeds the maximum number of tokens|too many tokens|token count .* exceeds/i

export function isContextLength(err: UpstreamError): boolean {
  if (err.kind !== 'client') return false
  return CONTEXT_LENGTH.test(err.upstreamCode ?? '') || CONTEXT_LENGTH.test(err.message)
}

/** Faults that happen before a request reaches the provider: the whole provider is unreachable. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER'])

export function isUnreachable(err: UpstreamError): boolean {
  if (err.kind !== 'connection' && err.kind !== 'timeout') return false
  if (err.kind === 'timeout') return err.message === 'connect timeout'
  for (let cause: unknown = err.cause, depth = 0; cause && depth < 4; depth++) {
    const code = (cause as { code?: string }).code
    if (code && UNREACHABLE_CODES.has(code)) return true
    if (/ssl|tls|certificate/i.test((cause as { message?: string }).message ?? '') && !/reset/i.test((cause as { message?: string }).message ?? '')) return true
    cause = (cause as { cause?: unknown }).cause
  }
  return false
}
