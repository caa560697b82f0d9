// Token usage as it crosses the adapter boundary (issue 9 item 8): whatever an upstream wrote
// (strings, negatives, 1e400 = Infinity, nested junk), the gateway carries only sane counts.
// A usage with a bad count once turned a valid answer into a 500 (the metrics listener threw
// on it) or cut a stream without [DONE]. Pure: no I/O.
import type { Usage } from './contract.ts'

/** A count is a finite number ≥ 0; anything else is no count at all. */
export const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0

/** The optional `*_details` objects: only their sane counts, or absent when none is left. */
function details(value: unknown): Record<string, number> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const kept: Record<string, number> = {}
  for (const [key, count] of Object.entries(value)) if (isCount(count)) kept[key] = count
  return Object.keys(kept).length > 0 ? kept : undefined
}

/**
 * Usage with sane counts, or undefined. prompt_tokens and completion_tokens must both be
 * counts (the OpenAI schema requires them); a bad total is recomputed from them. Other
 * numeric fields are kept when they are counts; `*_details` objects keep their counts.
 */
export function normalizeUsage(usage: unknown): Usage | undefined {
  if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) return undefined
  const raw = usage as Record<string, unknown>
  if (!isCount(raw.prompt_tokens) || !isCount(raw.completion_tokens)) return undefined
  const result: Usage = {
    prompt_tokens: raw.prompt_tokens,
    completion_tokens: raw.completion_tokens,
    total_tokens: isCount(raw.total_tokens) ? raw.total_tokens : raw.prompt_tokens + raw.completion_tokens,
  }
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'prompt_tokens' || key === 'completion_tokens' || key === 'total_tokens') continue
    if (key.endsWith('_details')) {
      const kept = details(value)
      if (kept) result[key] = kept
    } else if (isCount(value)) {
      result[key] = value
    }
  }
  return result
}

/** The three counts, in the order normalizeUsage writes them: first. */
const LEADING_KEYS = ['prompt_tokens', 'completion_tokens', 'total_tokens']

/** A `*_details` object that details() keeps whole: a plain object of counts, not empty. */
function saneDetails(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  let size = 0
  for (const key in value) {
    if (!isCount((value as Record<string, unknown>)[key])) return false
    size++
  }
  return size > 0
}

/**
 * Whether normalizeUsage would return the same thing, key order included (so a chunk's upstream
 * text can be reused). Walked, not built and serialized twice: this runs on every JSON answer
 * and every usage chunk, and the copy and its two JSON.stringify cost ~1.3 µs a call (issue 14).
 * It may say no where the copy would serialize the same (an integer-like key, an undefined
 * value): that usage is then rebuilt, which is never wrong; it never says yes where the copy
 * would differ (test/providers/usage.test.ts checks both against the copy).
 */
export function usageIsSane(usage: unknown): boolean {
  if (usage === undefined || usage === null) return true
  if (typeof usage !== 'object' || Array.isArray(usage)) return false
  const raw = usage as Record<string, unknown>
  let at = 0
  for (const key in raw) {
    const value = raw[key]
    if (at < LEADING_KEYS.length) {
      if (key !== LEADING_KEYS[at++] || !isCount(value)) return false
    } else if (key.endsWith('_details') ? !saneDetails(value) : !isCount(value)) {
      return false
    }
  }
  return at === LEADING_KEYS.length
}
