// Parsing helpers for values the schema cannot check alone: timer bounds, integers outside the
// schema (the per-provider family), durations, TRUST_PROXY and OTLP headers. Each failure is a
// ConfigError naming the variable.
import { ConfigError, list, MAX_TIMER_MS, type RawEnv } from '../providers/settings.ts'

/**
 * Every `*_MS` variable is a timer delay (issue 9 item 17) — except `*_TTL_MS`, which are
 * deadlines compared with the clock or sent to Redis as PX, never passed to setTimeout.
 * Node's timers hold a signed 32-bit delay: a larger one fires after 1 ms, so it is refused.
 */
export function isTimerVariable(variable: string): boolean {
  return variable.endsWith('_MS') && !variable.endsWith('_TTL_MS')
}

export function checkTimerMs(variable: string, value: unknown): void {
  if (typeof value === 'number' && value > MAX_TIMER_MS) {
    throw new ConfigError(variable, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days: Node's timers cannot wait longer, a larger value would fire at once; got ${value})`)
  }
}

export function intVar(raw: RawEnv, name: string, fallback: number, min = 0): number {
  const value = raw[name]?.trim()
  if (!value) return fallback
  if (!/^-?\d+$/.test(value) || Number(value) < min) {
    throw new ConfigError(name, `must be an integer >= ${min} (got ${JSON.stringify(value)})`)
  }
  if (isTimerVariable(name)) checkTimerMs(name, Number(value))
  return Number(value)
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `60000`, `30 s`, `1 minute`, `2 hours`: what @fastify/rate-limit accepts, checked at start-up. */
export function durationMs(variable: string, value: string): number {
  const match = /^(\d+)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?)?$/i.exec(value.trim())
  if (!match || Number(match[1]) <= 0) throw new ConfigError(variable, `must be a duration such as 60000, "30 s" or "1 minute" (got ${JSON.stringify(value)})`)
  const unit = (match[2] ?? 'ms').toLowerCase()
  const key = unit.startsWith('ms') || unit.startsWith('milli') ? 'ms' : unit[0]
  const ms = Number(match[1]) * DURATION_UNITS_MS[key]
  checkTimerMs(variable, ms) // the rate limiter's window is a timer too
  return ms
}

/** TRUST_PROXY: empty/`false` = off, `true`, a hop count (`1`), or addresses/CIDRs (`10.0.0.0/8,127.0.0.1`). */
export function parseTrustProxy(value: string): boolean | number | string[] {
  const v = value.trim().toLowerCase()
  if (v === '' || v === 'false' || v === '0') return false
  if (v === 'true') return true
  if (/^\d+$/.test(v)) return Number(v)
  const entries = list(value)
  for (const entry of entries) {
    if (!/^[0-9a-f.:]+(?:\/\d{1,3})?$/i.test(entry) && !['loopback', 'linklocal', 'uniquelocal'].includes(entry)) {
      throw new ConfigError('TRUST_PROXY', `must be true, a hop count, or addresses/CIDRs (got ${JSON.stringify(value)})`)
    }
  }
  return entries
}

/** OTEL_EXPORTER_OTLP_HEADERS, the standard `k=v,k2=v2` form (values may be %-encoded). */
export function parseOtlpHeaders(value: string): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const pair of list(value)) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new ConfigError('OTEL_EXPORTER_OTLP_HEADERS', 'entries must look like key=value')
    headers[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim())
  }
  return headers
}
