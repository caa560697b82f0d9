// An upstream's error object is typed by nobody: a numeric `code` or an object `type` must come
// out as an UpstreamError of the right kind, never a TypeError from the redactor (a 429 given as
// `{"error":{"code":429}}` was a crash instead of rate_limited).
import t from 'tap'
import { normalizeCompletion } from '../../providers/openai-sse.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

function failure(body: unknown): UpstreamError {
  try {
    normalizeCompletion(body as Record<string, unknown>)
  } catch (err) {
    if (err instanceof UpstreamError) return err
    throw err
  }
  throw new Error('no failure')
}

t.test('a numeric code is a status and a string code', async (t) => {
  const err = failure({ error: { code: 429, message: 'slow down' } })
  t.equal(err.kind, 'rate_limited')
  t.equal(err.status, 429)
  t.equal(err.upstreamCode, '429')
  t.match(err.message, /slow down/)
})

t.test('a non-string type or code is dropped, not thrown on', async (t) => {
  const err = failure({ error: { type: { nested: true }, code: [1], message: 'odd' } })
  t.equal(err.kind, 'stream_error')
  t.equal(err.upstreamCode, undefined)
})

t.test('a long code is bounded', async (t) => {
  const err = failure({ error: { type: 'x'.repeat(10_000), message: 'long' } })
  t.ok(err.upstreamCode!.length <= 300)
})
