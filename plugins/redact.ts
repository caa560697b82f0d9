// Secrets never leave the gateway: not in a response, an error message or a log line.
// `createRedactor` scrubs every configured key and anything shaped like a provider key
// (upstreams echo keys back in 401 messages); `logRedaction` wires it into pino.
import type { LoggerOptions } from 'pino'

const MASK = '[REDACTED]'
// sk-…, sk_…, sk-or-…, gsk_…, pk_…, AIza… (Google), g4f_/gfs_ keys; long enough not to hit words.
const KEY_SHAPES = /\b(?:sk-(?:or-|ant-|proj-)?|sk_|pk_|gsk_|g4f_|gfs_|AIza)[A-Za-z0-9_\-*]{8,}/g

export type Redactor = (text: string) => string

export function createRedactor(secrets: string[]): Redactor {
  const escaped = [...new Set(secrets)]
    .sort((a, b) => b.length - a.length)
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const exact = escaped.length ? new RegExp(escaped.join('|'), 'g') : undefined
  return (text) => {
    let out = exact ? text.replace(exact, MASK) : text
    out = out.replace(KEY_SHAPES, MASK)
    return out
  }
}

/** pino options: header paths censored, and every string a log call carries scrubbed. */
export function logRedaction(redact: Redactor): Pick<LoggerOptions, 'redact' | 'hooks'> {
  const scrub = (value: unknown, depth = 0): unknown => {
    if (typeof value === 'string') return redact(value)
    if (depth > 3 || value === null || typeof value !== 'object') return value
    if (value instanceof Error) {
      const copy = new Error(redact(value.message))
      copy.name = value.name
      copy.stack = value.stack ? redact(value.stack) : undefined
      return copy
    }
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1))
    // Fastify's request/reply serializers run later on these; leave them be.
    if ('raw' in value) return value
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1)
    return out
  }
  return {
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["g4f-api-key"]', 'headers.authorization', 'headers["x-api-key"]'],
      censor: MASK,
    },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => scrub(a)) as Parameters<typeof method>)
      },
    },
  }
}
