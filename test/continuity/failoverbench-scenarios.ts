// The sixteen scenarios of failoverbench's catalogue (methodology v0.1), as data: the fault
// (the wall model's name picks it, test/mocks/wall.ts), the ideal outcome, the time budget
// and the checks with the catalogue's values and severities. `scaledTime`: the scenario's
// times follow the wall's scaled faults (see failoverbench.test.ts).

export type CheckKind =
  | 'no_hang' | 'complete' | 'no_truncated_success' | 'attempts_primary_min' | 'attempts_primary_max' | 'attempts_primary_eq'
  | 'first_gap_min_s' | 'max_attempts_within' | 'wall_max_s' | 'alive_after' | 'fallback_used' | 'reported_model_is_fallback'
  | 'usage_present' | 'no_prefill_masking' | 'seq_no_hang' | 'seq_served_during_outage' | 'seq_recovered_within_s' | 'seq_probe_discipline'

export interface Check {
  id: string
  kind: CheckKind
  value?: number
  windowS?: number
  severity?: 'required' | 'advisory'
  informational?: boolean
  /** A time value that follows the scale (a duration of the scaled faults). */
  scaled?: boolean
}

export interface Scenario {
  id: string
  title: string
  model: string
  fallback?: string
  ideal: 'success' | 'error'
  maxWallS: number
  scaledTime: boolean
  sequence?: { count: number; intervalS: number; perRequestMaxWallS: number }
  checks: Check[]
}

export const SCENARIOS: Scenario[] = [
  { id: 'S01', title: '429 with Retry-After', model: 'fb-s01-429-retry-after', ideal: 'success', maxWallS: 20, scaledTime: false, checks: [
    { id: 'retried', kind: 'attempts_primary_min', value: 2, severity: 'advisory' },
    { id: 'retry_after_honoured', kind: 'first_gap_min_s', value: 1.8, severity: 'advisory' },
    { id: 'no_hammer', kind: 'max_attempts_within', windowS: 1.5, value: 2 },
  ] },
  { id: 'S02', title: '429 without Retry-After, persistent', model: 'fb-s02-429-persistent', ideal: 'success', maxWallS: 40, scaledTime: false, checks: [
    { id: 'no_hammer', kind: 'max_attempts_within', windowS: 3, value: 4 },
    { id: 'bounded_attempts', kind: 'attempts_primary_max', value: 6 },
    { id: 'no_hang', kind: 'no_hang' },
  ] },
  { id: 'S03', title: '500 once, then healthy', model: 'fb-s03-500-then-200', ideal: 'success', maxWallS: 20, scaledTime: false, checks: [
    { id: 'no_hang', kind: 'no_hang' },
    { id: 'same_provider_retry', kind: 'attempts_primary_min', value: 2, severity: 'advisory' },
  ] },
  { id: 'S04', title: '503 persistent', model: 'fb-s04-503-persistent', ideal: 'success', maxWallS: 40, scaledTime: false, checks: [
    { id: 'bounded_attempts', kind: 'attempts_primary_max', value: 6 },
    { id: 'no_hang', kind: 'no_hang' },
  ] },
  { id: 'S05', title: 'TCP reset before headers', model: 'fb-s05-reset', ideal: 'success', maxWallS: 20, scaledTime: false, checks: [
    { id: 'no_hang', kind: 'no_hang' },
  ] },
  { id: 'S06', title: 'No response at all', model: 'fb-s06-no-response', ideal: 'success', maxWallS: 130, scaledTime: true, checks: [
    { id: 'within_budget', kind: 'wall_max_s', value: 100, scaled: true },
    { id: 'no_hang', kind: 'no_hang' },
    { id: 'silent_route_not_retried', kind: 'attempts_primary_max', value: 1, severity: 'advisory' },
  ] },
  { id: 'S07', title: 'Slow first token', model: 'fb-s07-slow-ttft', ideal: 'success', maxWallS: 60, scaledTime: true, checks: [
    { id: 'no_hang', kind: 'no_hang' },
    { id: 'ttft_limit', kind: 'wall_max_s', value: 15, severity: 'advisory', scaled: true },
  ] },
  { id: 'S08', title: 'Stream cut mid-answer', model: 'fb-s08-stream-cut', ideal: 'success', maxWallS: 40, scaledTime: false, checks: [
    { id: 'no_truncated_success', kind: 'no_truncated_success' },
    { id: 'no_hang', kind: 'no_hang' },
  ] },
  { id: 'S09', title: 'Stream stalls', model: 'fb-s09-stream-stall', ideal: 'success', maxWallS: 70, scaledTime: true, checks: [
    { id: 'bounded', kind: 'wall_max_s', value: 45, scaled: true },
    { id: 'no_truncated_success', kind: 'no_truncated_success' },
    { id: 'alive_after', kind: 'alive_after' },
    { id: 'no_hang', kind: 'no_hang' },
  ] },
  { id: 'S10', title: 'Malformed chunk in the stream', model: 'fb-s10-malformed-chunk', ideal: 'success', maxWallS: 30, scaledTime: false, checks: [
    { id: 'alive_after', kind: 'alive_after' },
    { id: 'no_garbage', kind: 'no_truncated_success' },
    { id: 'no_hang', kind: 'no_hang' },
    { id: 'recovered_in_place', kind: 'complete', severity: 'advisory' },
  ] },
  { id: 'S11', title: 'Stream ends without [DONE]', model: 'fb-s11-no-done', ideal: 'success', maxWallS: 30, scaledTime: false, checks: [
    { id: 'prompt_finalise', kind: 'wall_max_s', value: 8 },
    { id: 'usage_reported', kind: 'usage_present', severity: 'advisory' },
  ] },
  { id: 'S12', title: 'Context length exceeded', model: 'fb-s12-context-length', ideal: 'success', maxWallS: 20, scaledTime: false, checks: [
    { id: 'no_same_model_retry', kind: 'attempts_primary_eq', value: 1 },
    { id: 'no_hang', kind: 'no_hang' },
  ] },
  { id: 'S13', title: 'Content-filter rejection', model: 'fb-s13-content-filter', ideal: 'error', maxWallS: 20, scaledTime: false, checks: [
    { id: 'no_same_model_retry', kind: 'attempts_primary_eq', value: 1 },
    { id: 'no_hang', kind: 'no_hang' },
    { id: 'fallback_attempted', kind: 'fallback_used', severity: 'advisory', informational: true },
  ] },
  { id: 'S14', title: 'Fallback target rejects prefill', model: 'fb-s14-stream-cut', fallback: 'fb-ok-noprefill', ideal: 'success', maxWallS: 40, scaledTime: false, checks: [
    { id: 'no_prefill_masking', kind: 'no_prefill_masking' },
    { id: 'no_truncated_success', kind: 'no_truncated_success' },
  ] },
  { id: 'S15', title: 'Primary flaps: down, then healthy', model: 'fb-s15-flap', ideal: 'success', maxWallS: 200, scaledTime: true, sequence: { count: 20, intervalS: 4, perRequestMaxWallS: 30 }, checks: [
    { id: 'no_hang', kind: 'seq_no_hang' },
    { id: 'served_during_outage', kind: 'seq_served_during_outage' },
    { id: 'recovered', kind: 'seq_recovered_within_s', value: 30, scaled: true },
    { id: 'probe_discipline', kind: 'seq_probe_discipline', severity: 'advisory', informational: true },
  ] },
  { id: 'S16', title: 'Fail-over accounting', model: 'fb-s16-503-persistent', ideal: 'success', maxWallS: 40, scaledTime: false, checks: [
    { id: 'reports_fallback_model', kind: 'reported_model_is_fallback' },
    { id: 'usage_present', kind: 'usage_present', severity: 'advisory' },
    { id: 'bounded_attempts', kind: 'attempts_primary_max', value: 6 },
  ] },
]
