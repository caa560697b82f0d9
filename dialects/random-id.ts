// Random bytes for the ids tiergate mints (Responses `resp_…`, `msg_…`; Anthropic `msg_…`,
// `toolu_…`), drawn from a pool filled 4 KB at a time. `randomBytes(24)` costs a call into the
// system's random source each time — 3.9 µs on the build machine, against 0.2 µs from the pool —
// and a streamed Responses answer mints several: 9 % of that bench's CPU (issue 14). The pool
// is filled by the same CSPRNG, as Node's own `randomUUID` batches its randomness.
import { randomFillSync } from 'node:crypto'

const POOL_BYTES = 4096
const pool = Buffer.alloc(POOL_BYTES)
let used = POOL_BYTES

/** `bytes` fresh random bytes as text (each byte is handed out once). */
export function randomText(bytes: number, encoding: 'hex' | 'base64url'): string {
  if (used + bytes > POOL_BYTES) {
    randomFillSync(pool)
    used = 0
  }
  const text = pool.toString(encoding, used, used + bytes)
  used += bytes
  return text
}
