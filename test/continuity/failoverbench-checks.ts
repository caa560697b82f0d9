// failoverbench's checks and verdict rules (catalogue header, methodology v0.1), as pure
// functions over what one scenario's call and the wall's log showed.
//   pass    rescued, all checks clean
//   partial rescued, an advisory check failed (or, for an ideal error, answered anyway)
//   safe    not rescued, but a bounded clean error and all required checks clean
//   fail    a required check failed, a hang, or a truncated answer presented as success
import type { Check, Scenario } from './failoverbench-scenarios.ts'

export interface CallResult {
  ok: boolean
  hang: boolean
  content: string
  elapsedS: number
  error?: string
  status?: number
  reportedModel?: string
  usage?: unknown
}

export interface Metrics {
  outcome: 'success' | 'error' | 'hang'
  complete: boolean
  words: number
  error?: string
  elapsedS: number
  reportedModel?: string
  usage?: unknown
  fallbackModel: string
  attemptsPrimary: number
  attemptsFallback: number
  primaryTimes: number[]
  prefillRejections: number
  aliveAfter: boolean
  aliveError?: string
  sequence?: { hangs: number; requestsDuringDown: number; servedDuringDown: number; primaryAttemptsDuringDown: number; recoveredAfterS: number | undefined }
}

export type Verdict = 'pass' | 'partial' | 'safe' | 'fail'
export interface CheckResult { id: string; status: 'pass' | 'fail' | 'info'; severity: 'required' | 'advisory'; detail: string }

function judge(check: Check, m: Metrics, scale: number): { ok: boolean; detail: string } {
  const value = (check.value ?? 0) * (check.scaled ? scale : 1)
  const seq = m.sequence
  switch (check.kind) {
    case 'no_hang': return { ok: m.outcome !== 'hang', detail: `ended in ${m.elapsedS.toFixed(2)}s (${m.outcome})` }
    case 'complete': return { ok: m.outcome === 'success' && m.complete, detail: m.complete ? 'complete answer' : `${m.outcome}, ${m.words} words` }
    case 'no_truncated_success': return { ok: !(m.outcome === 'success' && !m.complete), detail: m.outcome === 'success' ? `success with ${m.words}/60 words` : `no success claimed (${m.outcome})` }
    case 'attempts_primary_min': return { ok: m.attemptsPrimary >= value, detail: `${m.attemptsPrimary} primary attempt(s)` }
    case 'attempts_primary_max': return { ok: m.attemptsPrimary <= value, detail: `${m.attemptsPrimary} primary attempt(s)` }
    case 'attempts_primary_eq': return { ok: m.attemptsPrimary === value, detail: `${m.attemptsPrimary} primary attempt(s)` }
    case 'first_gap_min_s': {
      const gap = m.primaryTimes.length >= 2 ? m.primaryTimes[1] - m.primaryTimes[0] : undefined
      return { ok: gap !== undefined && gap >= value, detail: gap === undefined ? 'no second attempt' : `gap ${gap.toFixed(2)}s` }
    }
    case 'max_attempts_within': {
      const first = m.primaryTimes[0]
      const n = m.primaryTimes.filter((t) => t - first < (check.windowS ?? 0)).length
      return { ok: n <= value, detail: `${n} attempt(s) in the first ${check.windowS}s` }
    }
    case 'wall_max_s': return { ok: m.outcome !== 'hang' && m.elapsedS <= value, detail: `${m.elapsedS.toFixed(2)}s (limit ${value.toFixed(2)}s)` }
    case 'alive_after': return { ok: m.aliveAfter, detail: m.aliveAfter ? 'healthy call succeeded afterwards' : `healthy call failed: ${m.aliveError}` }
    case 'fallback_used': return { ok: m.attemptsFallback >= 1, detail: `${m.attemptsFallback} fallback attempt(s)` }
    case 'reported_model_is_fallback': return { ok: m.attemptsFallback === 0 || (m.reportedModel ?? '').includes(m.fallbackModel), detail: `response.model = ${m.reportedModel}` }
    case 'usage_present': return { ok: Boolean(m.usage), detail: m.usage ? `usage = ${JSON.stringify(m.usage)}` : 'no usage block' }
    case 'no_prefill_masking': return { ok: !(m.outcome === 'error' && m.prefillRejections > 0), detail: `${m.prefillRejections} prefill rejection(s); outcome ${m.outcome}` }
    case 'seq_no_hang': return { ok: (seq?.hangs ?? 1) === 0, detail: `${seq?.hangs} hung request(s)` }
    case 'seq_served_during_outage': return { ok: !!seq && seq.requestsDuringDown > 0 && seq.servedDuringDown === seq.requestsDuringDown, detail: `${seq?.servedDuringDown}/${seq?.requestsDuringDown} answered while the primary was down` }
    case 'seq_recovered_within_s': return { ok: seq?.recoveredAfterS !== undefined && seq.recoveredAfterS <= value, detail: seq?.recoveredAfterS === undefined ? 'primary never used again' : `primary answered again ${seq.recoveredAfterS.toFixed(2)}s after recovery (limit ${value.toFixed(2)}s)` }
    case 'seq_probe_discipline': return { ok: !!seq && seq.primaryAttemptsDuringDown <= seq.requestsDuringDown, detail: `${seq?.primaryAttemptsDuringDown} primary attempt(s) for ${seq?.requestsDuringDown} request(s) during the outage` }
  }
}

export function evaluate(s: Scenario, m: Metrics, scale: number): { verdict: Verdict; reason: string; checks: CheckResult[] } {
  const checks: CheckResult[] = s.checks.map((check) => {
    const { ok, detail } = judge(check, m, scale)
    return { id: check.id, status: ok ? 'pass' : check.informational ? 'info' : 'fail', severity: check.severity ?? 'required', detail }
  })
  if (m.outcome === 'hang') return { verdict: 'fail', reason: 'hang', checks }
  if (s.ideal === 'success' && m.outcome === 'success' && !m.complete) return { verdict: 'fail', reason: 'truncated answer presented as success', checks }
  const failedRequired = checks.filter((c) => c.status === 'fail' && c.severity === 'required').map((c) => c.id)
  if (failedRequired.length > 0) return { verdict: 'fail', reason: `failed: ${failedRequired.join(', ')}`, checks }
  const failedAdvisory = checks.filter((c) => c.status === 'fail' && c.severity === 'advisory').map((c) => c.id)
  if (s.ideal === 'error' && m.outcome === 'success') return { verdict: 'partial', reason: 'answered by routing around the rejection', checks }
  const rescued = s.ideal === 'success' ? m.outcome === 'success' && m.complete : m.outcome === 'error'
  if (!rescued) return { verdict: 'safe', reason: `not rescued — clean error: ${(m.error ?? '').slice(0, 100)}`, checks }
  if (failedAdvisory.length > 0) return { verdict: 'partial', reason: `rescued; advisory: ${failedAdvisory.join(', ')}`, checks }
  return { verdict: 'pass', reason: 'rescued', checks }
}
