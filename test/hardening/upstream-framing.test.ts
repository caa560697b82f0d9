// The framing readers with their caps (issue 9 item 6), without a network: a legitimate
// stream is never cut however its bytes are split into reads; an oversized event, line or
// body fails as malformed and destroys the body.
import t from 'tap'
import { Readable } from 'node:stream'
import { READ_BYTES, sseEventBatches, sseEvents, ndjsonObjects, readBounded, type BodyStream } from '../../providers/http/index.ts'
import { setBodyLimits, DEFAULT_UPSTREAM_LIMITS } from '../../providers/http/limits.ts'
import { afterLastBoundary } from '../../providers/http/sse.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

/** A body made of these reads, with the given caps. */
function body(reads: Array<string | Buffer>, limits: Partial<typeof DEFAULT_UPSTREAM_LIMITS> = {}): BodyStream {
  const stream = Readable.from(reads.map((r) => (typeof r === 'string' ? Buffer.from(r) : r)), { objectMode: false }) as unknown as BodyStream
  setBodyLimits(stream, { ...DEFAULT_UPSTREAM_LIMITS, ...limits })
  return stream
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

t.test('afterLastBoundary: a table', async (t) => {
  const cases: Array<[string, number | undefined, number]> = [
    ['data: a\n\n', undefined, 9], ['data: a\r\n\r\ndata: b', undefined, 11], ['data: a\r\rx', undefined, 9],
    ['data: a\n', undefined, -1], ['\ndata: b', 0x0a, 1], ['\rdata: b', 0x0d, 1], ['\ndata: b', 0x0d, -1], ['', 0x0a, -1],
  ]
  for (const [text, previous, expected] of cases) t.equal(afterLastBoundary(Buffer.from(text), previous), expected, JSON.stringify([text, previous]))
})

t.test('SSE: a stream split at every byte position parses whole under a cap just above its largest event', async (t) => {
  const events = ['data: {"a":"' + 'x'.repeat(300) + '"}', ': comment', 'event: message\ndata: line one\ndata: line two', 'data: [DONE]']
  for (const eol of ['\n', '\r\n', '\r']) {
    const text = events.map((e) => e.replaceAll('\n', eol) + eol + eol).join('')
    for (let cut = 1; cut < text.length; cut += 7) {
      const got = await collect(sseEvents(body([text.slice(0, cut), text.slice(cut)], { maxEventBytes: 340 })))
      if (got.map((e) => e.data).join('|') !== `{"a":"${'x'.repeat(300)}"}|line one\nline two|[DONE]`) {
        t.fail(`eol ${JSON.stringify(eol)} cut at ${cut}: ${JSON.stringify(got.map((e) => e.data))}`)
        return
      }
    }
  }
  t.pass('every split parsed')
})

t.test('SSE: an event over the cap is malformed and destroys the body', async (t) => {
  const stream = body(['data: ', 'y'.repeat(1000), 'y'.repeat(1000)], { maxEventBytes: 1500 })
  const err = await collect(sseEvents(stream)).catch((e) => e)
  t.ok(err instanceof UpstreamError)
  t.equal(err.kind, 'malformed')
  t.match(err.message, /UPSTREAM_MAX_EVENT_BYTES/)
  t.ok(stream.destroyed)
})

t.test('SSE: many small events never add up to the cap', async (t) => {
  const reads = Array.from({ length: 2000 }, (_, i) => `data: ${i}\n\n`)
  const got = await collect(sseEvents(body([reads.join('')], { maxEventBytes: 1024 })))
  t.equal(got.length, 2000)
})

t.test('NDJSON: lines split anywhere parse; a line over the cap is malformed', async (t) => {
  const lines = ['{"a":1}', '{"b":"' + 'z'.repeat(200) + '"}', '{"done":true}'].join('\n') + '\n'
  for (let cut = 1; cut < lines.length; cut += 5) {
    const got = await collect(ndjsonObjects<Record<string, unknown>>(body([lines.slice(0, cut), lines.slice(cut)], { maxEventBytes: 256 })))
    if (got.length !== 3) return void t.fail(`cut at ${cut}: ${got.length} objects`)
  }
  const stream = body(['{"a":"', 'q'.repeat(600)], { maxEventBytes: 256 })
  const err = await collect(ndjsonObjects(stream)).catch((e) => e)
  t.equal(err.kind, 'malformed')
  t.ok(stream.destroyed)
})

t.test('readBounded: whole under the cap, refused over it (declared or counted)', async (t) => {
  t.equal((await readBounded(body(['abc', 'def']), 6, undefined)).toString(), 'abcdef')
  const counted = body(['abc', 'defg'])
  t.equal((await readBounded(counted, 6, undefined).catch((e) => e)).kind, 'malformed')
  t.ok(counted.destroyed)
  const declared = body(['abc'])
  t.equal((await readBounded(declared, 6, '1000000').catch((e) => e)).kind, 'malformed', 'a Content-Length over the cap fails before reading')
})

t.test('readBounded: a body destroyed before or while it is read fails, never hangs', async (t) => {
  const before = body(['abc'])
  before.destroy()
  t.ok((await readBounded(before, 6, undefined).catch((e) => e)) instanceof Error, 'destroyed before the read: rejected at once')
  const failed = body(['abc'])
  failed.on('error', () => undefined) // its error, emitted before anyone reads it
  failed.destroy(new Error('socket reset'))
  await new Promise((r) => setImmediate(r))
  t.equal((await readBounded(failed, 6, undefined).catch((e) => e)).message, 'socket reset', 'its own error')
  const slow = new Readable({ read() {} }) as unknown as BodyStream
  setBodyLimits(slow, DEFAULT_UPSTREAM_LIMITS)
  const reading = readBounded(slow, 6, undefined)
  ;(slow as unknown as Readable).push(Buffer.from('ab'))
  setImmediate(() => slow.destroy())
  t.ok((await reading.catch((e) => e)) instanceof Error, 'destroyed without an error mid-read: rejected')
  const aborted = new Readable({ read() {} }) as unknown as BodyStream
  setBodyLimits(aborted, DEFAULT_UPSTREAM_LIMITS)
  const whileAborted = readBounded(aborted, 6, undefined)
  setImmediate(() => aborted.destroy(new Error('aborted')))
  t.equal((await whileAborted.catch((e) => e)).message, 'aborted', 'destroyed with an error mid-read: that error')
})

t.test('the whole stream: up to UPSTREAM_MAX_STREAM_BYTES it is read, one byte more is malformed (SSE and NDJSON)', async (t) => {
  const event = 'data: {"x":1}\n\n' // 15 bytes
  const line = '{"x":1}\n' // 8 bytes
  const cases: Array<[string, (reads: string[], cap: number) => AsyncIterable<unknown>, string, number]> = [
    ['SSE', (reads, cap) => sseEvents(body(reads, { maxStreamBytes: cap })), event, 15],
    ['NDJSON', (reads, cap) => ndjsonObjects(body(reads, { maxStreamBytes: cap })), line, 8],
  ]
  for (const [name, read, unit, size] of cases) {
    const reads = Array.from({ length: 10 }, () => unit)
    t.equal((await collect(read(reads, 10 * size))).length, 10, `${name}: exactly at the cap`)
    const err = await collect(read(reads, 10 * size - 1)).catch((e) => e)
    t.ok(err instanceof UpstreamError && err.kind === 'malformed', `${name}: one byte over`)
    t.match(err.message, /UPSTREAM_MAX_STREAM_BYTES/, `${name}: the message names the variable`)
  }
})

// sseEventBatches is an iterator object, not an async generator (issue 14). What the generator
// guaranteed by its queue must hold still: one step at a time, the body closed on every way out.
t.test('SSE batches: the steps of the iterator object', async (t) => {
  t.test('a return() during a pending read waits for that read, then closes the body', async (t) => {
    const stream = new Readable({ read() {} }) as unknown as BodyStream
    const batches = sseEventBatches(stream)
    const pending = batches.next()
    let returned = false
    const closing = batches.return().then(() => { returned = true })
    await new Promise((resolve) => setImmediate(resolve))
    t.notOk(returned, 'return() waits while the read is pending')
    ;(stream as unknown as Readable).push(Buffer.from('data: a\n\n'))
    const first = await pending
    t.same(first.value?.map((e) => e.data), ['a'], 'the pending read completes with its events')
    await closing
    t.ok(stream.destroyed, 'then the body is closed (still arriving: destroyed)')
    t.same(await batches.next(), { done: true, value: undefined }, 'and nothing more comes')
  })

  t.test('the final event without its blank line comes last, then the end', async (t) => {
    const batches = sseEventBatches(body(['data: a\n\ndata: b']))
    t.same((await batches.next()).value?.map((e) => e.data), ['a'])
    t.same((await batches.next()).value?.map((e) => e.data), ['b'])
    t.same(await batches.next(), { done: true, value: undefined })
    t.same(await batches.next(), { done: true, value: undefined }, 'done stays done')
  })

  t.test('after a failure: done, and the body destroyed', async (t) => {
    const stream = body(['data: ', 'y'.repeat(100)], { maxEventBytes: 50 })
    const batches = sseEventBatches(stream)
    const err = await batches.next().catch((e) => e)
    t.equal(err.kind, 'malformed')
    t.ok(stream.destroyed)
    t.same(await batches.next(), { done: true, value: undefined })
    t.same(await batches.return(), { done: true, value: undefined }, 'a return() after it is harmless')
  })

  t.test('a whole canonical read keeps its bytes for forwarding', async (t) => {
    const text = 'data: {"a":1}\n\ndata: {"b":2}\n\n'
    const first = (await sseEventBatches(body([text])).next()).value!
    t.equal(first[READ_BYTES]?.toString(), text)
  })
})
