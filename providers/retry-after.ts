// How long an upstream asked us to wait, from whichever header it used.
// OpenAI: retry-after-ms, retry-after (seconds or HTTP date), x-ratelimit-reset-requests|tokens ("1s", "6m0s", "20ms").
type Headers = Record<string, string | string[] | undefined>

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Go-style duration ("1m30s", "250ms", "2h") → ms. */
export function parseDurationMs(value: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g
  let total = 0
  let matched = ''
  for (const m of value.matchAll(re)) {
    const n = Number(m[1])
    total += m[2] === 'h' ? n * 3_600_000 : m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n
    matched += m[0]
  }
  return matched.length > 0 && matched === value.trim() ? total : undefined
}

/** Without a configured cap (MAX_KEY_COOLDOWN_MS), one hour: no upstream may park a key longer. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 3_600_000

/**
 * The wait an upstream asked for, capped at `maxMs` at parse time (issue 9 item 9):
 * `retry-after: 99999999` once cooled a key for 3.2 years and was returned to the client as is.
 */
export function retryAfterMs(headers: Headers, now = Date.now(), maxMs = DEFAULT_MAX_RETRY_AFTER_MS): number | undefined {
  const asked = requestedMs(headers, now)
  return asked === undefined ? undefined : Math.min(asked, maxMs)
}

function requestedMs(headers: Headers, now: number): number | undefined {
  const ms = header(headers, 'retry-after-ms')
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms))
  const ra = header(headers, 'retry-after')
  if (ra) {
    if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000
    const date = Date.parse(ra)
    if (!Number.isNaN(date)) return Math.max(0, date - now)
  }
  const resets = ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']
    .map((name) => header(headers, name))
    .map((v) => (v ? parseDurationMs(v) : undefined))
    .filter((v): v is number => v !== undefined)
  return resets.length ? Math.max(...resets) : undefined
}
