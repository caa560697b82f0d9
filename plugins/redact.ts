// Secrets never leave the gateway: not in a response, an error message or a log line.
// `createRedactor` scrubs every configured key, anything shaped like a provider key (upstreams
// echo keys back in 401 messages) and credentials in URL query strings; `logRedaction` wires
// it into pino. `registerSecrets` + `redactUpstreamText` make every UpstreamError safe at birth
// (providers/upstream-error.ts), since adapters build errors far from `app.config`.
import { createHash } from 'node:crypto'
import type { LoggerOptions } from 'pino'

export const MASK = '[REDACTED]'
// sk-…, sk_…, sk-or-…, gsk_…, pk_…, AIza… (Google), g4f_/gfs_ keys; long enough not to hit words.
const KEY_SHAPES = /\b(?:sk-(?:or-|ant-|proj-)?|sk_|pk_|gsk_|g4f_|gfs_|AIza)[A-Za-z0-9_\-*]{8,}/g

/**
 * Query parameters that carry credentials (`?api_key=…`, Google's `?key=…`, OAuth's
 * `?access_token=…`): masked in every log line, refused on /v1 (plugins/auth.ts).
 */
export const CREDENTIAL_QUERY_PARAMS = [
  'api_key', 'api-key', 'apikey', 'key', 'token', 'access_token', 'auth', 'auth_token',
  'authorization', 'x-api-key', 'secret', 'client_secret', 'password',
]
// `-` and `_` may come percent-encoded (%2D, %5F): `?api%5Fkey=` is still `api_key`.
const QUERY_NAMES = CREDENTIAL_QUERY_PARAMS.map((n) => n.replace(/[-_]/g, '(?:[-_]|%2[dD]|%5[fF])')).join('|')
const CREDENTIAL_IN_QUERY = new RegExp(`([?&;](?:${QUERY_NAMES})=)[^&#\\s"']*`, 'gi')

/**
 * A partial key at the very end of a text (a cut message, "…sk-live-9f8e") is masked when at
 * least this many characters of a configured secret are there: fewer cannot identify a key.
 */
const MIN_PARTIAL_SECRET_CHARS = 6

export type Redactor = (text: string) => string

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Masks credential-carrying query parameters of a URL or any text holding one. */
export const redactQuery = (text: string) => text.replace(CREDENTIAL_IN_QUERY, `$1${MASK}`)

/** The name of the first credential-carrying query parameter of a URL, if it has one. */
export function credentialQueryParam(url: string): string | undefined {
  const q = url.indexOf('?')
  if (q < 0) return undefined
  const names = new Set(CREDENTIAL_QUERY_PARAMS)
  for (const name of new URLSearchParams(url.slice(q + 1)).keys()) {
    if (names.has(name.toLowerCase())) return name
  }
  return undefined
}

export function createRedactor(secrets: string[]): Redactor {
  const unique = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
  const exact = unique.length ? new RegExp(unique.map(escapeRegExp).join('|'), 'g') : undefined
  return (text) => {
    let out = exact ? text.replace(exact, MASK) : text
    out = out.replace(KEY_SHAPES, MASK)
    out = maskTrailingPartial(out, unique)
    return redactQuery(out)
  }
}

/**
 * A text that was cut (upstream messages are bounded) may end inside a key: its prefix there
 * is masked too, so that no cut reveals the first characters of a configured secret.
 */
function maskTrailingPartial(text: string, secrets: string[]): string {
  for (const secret of secrets) {
    for (let n = Math.min(secret.length - 1, text.length); n >= MIN_PARTIAL_SECRET_CHARS; n--) {
      if (text.endsWith(secret.slice(0, n))) return text.slice(0, text.length - n) + MASK
    }
  }
  return text
}

/** Redact, then cut: a key straddling the cut is masked whole before any of it can be cut off. */
export function redactThenCut(text: string, maxChars: number, redact: Redactor = redactUpstreamText): string {
  const redacted = redact(text)
  return redacted.length <= maxChars ? redacted : redacted.slice(0, maxChars)
}

/**
 * Every key shown anywhere (`/providers`, logs, health events) is this: a hash only. A hash
 * with the key's last characters would complete a prefix leaked elsewhere.
 */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12)
}

// The secrets of every app running in this process. Errors are created inside adapters and
// parsers that never see `app.config`; they redact through this. Several apps in one process
// (tests, embedders) add up: over-redacting another app's key in an error is harmless.
const registered = new Map<string, number>()
let upstreamRedactor: Redactor = createRedactor([])

/** Adds an app's secrets to the process-wide set; call the returned function on close. */
export function registerSecrets(secrets: string[]): () => void {
  for (const s of secrets) registered.set(s, (registered.get(s) ?? 0) + 1)
  upstreamRedactor = createRedactor([...registered.keys()])
  let done = false
  return () => {
    if (done) return
    done = true
    for (const s of secrets) {
      const n = (registered.get(s) ?? 1) - 1
      if (n <= 0) registered.delete(s)
      else registered.set(s, n)
    }
    upstreamRedactor = createRedactor([...registered.keys()])
  }
}

/** Redacts text that came from an upstream with every registered secret and key shape. */
export const redactUpstreamText: Redactor = (text) => upstreamRedactor(text)

/** Fastify's request serializer, with credentials in the query string masked. */
function serializeRequest(req: { method: string; url: string; headers?: Record<string, unknown>; host?: string; hostname?: string; ip?: string; socket?: { remotePort?: number } }) {
  return {
    method: req.method,
    url: redactQuery(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }
}

/** pino options: header paths censored, the request URL's query masked, and every string a log call carries scrubbed. */
export function logRedaction(redact: Redactor): Pick<LoggerOptions, 'redact' | 'hooks' | 'serializers'> {
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
    serializers: { req: serializeRequest as never },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => scrub(a)) as Parameters<typeof method>)
      },
    },
  }
}
