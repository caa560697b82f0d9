// bodyReads reads an upstream body by its events instead of Node's async iterator of a Readable
// (issue 14: the iterator's generator, end-of-stream watcher and promises per step). What it must
// keep is what that iterator did for the SSE and NDJSON readers: every byte in order, the end,
// the body's own error, a destroy without an error as a premature close, and an early close that
// reads a fully arrived body to its end instead of aborting it. Each scripted body below is read
// both ways and the two must agree; then the same against real undici bodies from node:http.
import t from 'tap'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Pool } from 'undici'
import { bodyReads } from '../../providers/http/body-reads.ts'
import type { BodyStream } from '../../providers/http/types.ts'

type Step = { push: string } | { end: true } | { error: string } | { destroy: true } | { wait: true }
interface Result { text: string; end: 'end' | 'error'; error?: string; code?: string }

/** A body that plays its steps, one per turn of the event loop after the first read. */
function scripted(steps: Step[]): Readable {
  let at = 0
  const body = new Readable({ read() {} })
  const play = () => {
    while (at < steps.length) {
      const step = steps[at++]
      if ('wait' in step) return void setImmediate(play)
      if ('push' in step) body.push(Buffer.from(step.push))
      else if ('end' in step) body.push(null)
      else if ('error' in step) body.destroy(new Error(step.error))
      else body.destroy()
    }
  }
  setImmediate(play)
  return body
}

const errorOf = (err: unknown) => ({ error: (err as Error).message, code: (err as { code?: string }).code })

async function readWithBodyReads(body: Readable): Promise<Result> {
  const reads = bodyReads(body as unknown as BodyStream)
  let text = ''
  try {
    for (let chunk = await reads.next(); chunk !== undefined; chunk = await reads.next()) text += chunk.toString()
    return { text, end: 'end' }
  } catch (err) {
    reads.failed()
    return { text, end: 'error', ...errorOf(err) }
  } finally {
    await reads.close()
  }
}

async function readWithNodeIterator(body: Readable): Promise<Result> {
  let text = ''
  try {
    for await (const chunk of body) text += (chunk as Buffer).toString()
    return { text, end: 'end' }
  } catch (err) {
    return { text, end: 'error', ...errorOf(err) }
  }
}

const cases: Array<[string, Step[]]> = [
  ['one read, then the end', [{ push: 'data: a\n\n' }, { end: true }]],
  ['reads in separate turns', [{ push: 'a' }, { wait: true }, { push: 'b' }, { wait: true }, { push: 'c' }, { wait: true }, { end: true }]],
  ['several pushes in one turn', [{ push: 'a' }, { push: 'b' }, { push: 'c' }, { end: true }]],
  ['an empty body', [{ end: true }]],
  ['an error after a read', [{ push: 'a' }, { wait: true }, { error: 'socket hang up' }]],
  ['an error before any byte', [{ error: 'ECONNRESET' }]],
  ['destroyed without an error after a read', [{ push: 'a' }, { wait: true }, { destroy: true }]],
  ['destroyed without an error at once', [{ destroy: true }]],
]

for (const [name, steps] of cases) {
  t.test(name, async (t) => {
    const ours = await readWithBodyReads(scripted(steps))
    const node = await readWithNodeIterator(scripted(steps))
    t.same(ours, node, 'the same bytes and the same end as Node\'s own iterator')
  })
}

t.test('a destroy without an error is a premature close, as stream.finished reports it', async (t) => {
  const result = await readWithBodyReads(scripted([{ push: 'a' }, { wait: true }, { destroy: true }]))
  t.match(result, { text: 'a', end: 'error', code: 'ERR_STREAM_PREMATURE_CLOSE' })
})

t.test('a body that ended or broke before it was handed over', async (t) => {
  const ended = new Readable({ read() {} })
  ended.push(null)
  ended.resume()
  await once(ended, 'end')
  t.same(await readWithBodyReads(ended), { text: '', end: 'end' }, 'ended: nothing to read, no wait')

  const broken = new Readable({ read() {} })
  broken.on('error', () => undefined)
  broken.destroy(new Error('gone'))
  await new Promise((resolve) => broken.on('close', resolve)) // once() would reject on the error
  t.match(await readWithBodyReads(broken), { end: 'error', error: 'gone' }, 'destroyed with an error: that error')

  const closed = new Readable({ read() {} })
  closed.destroy()
  await once(closed, 'close')
  t.match(await readWithBodyReads(closed), { end: 'error', code: 'ERR_STREAM_PREMATURE_CLOSE' }, 'destroyed without one: a premature close')
})

t.test('an early close', async (t) => {
  t.test('of a body that has all arrived reads it to its end: no abort, no error', async (t) => {
    const body = new Readable({ read() {} })
    body.push(Buffer.from('data: a\n\n'))
    body.push(Buffer.from('data: [DONE]\n\n'))
    body.push(null)
    const errors: Error[] = []
    body.on('error', (err) => errors.push(err))
    const reads = bodyReads(body as unknown as BodyStream)
    t.equal(String(await reads.next()), 'data: a\n\ndata: [DONE]\n\n', 'what was buffered comes as one read, as read() gives it')
    await reads.close()
    t.ok(body.readableEnded, 'read to its end')
    t.same(errors, [], 'not destroyed with an error')
    for (const event of ['readable', 'end', 'error', 'close']) t.equal(body.listenerCount(event), event === 'error' ? 1 : 0, `no ${event} listener of its own left`)
  })

  t.test('of a body still arriving destroys it', async (t) => {
    const body = new Readable({ read() {} })
    body.push(Buffer.from('data: a\n\n'))
    const reads = bodyReads(body as unknown as BodyStream)
    t.equal(String(await reads.next()), 'data: a\n\n')
    await reads.close()
    t.ok(body.destroyed, 'destroyed: the upstream socket is freed now')
    t.notOk(body.readableEnded, 'not waited for')
  })

  t.test('while a read is waiting ends that read: it never hangs', async (t) => {
    const body = new Readable({ read() {} })
    const reads = bodyReads(body as unknown as BodyStream)
    const waiting = reads.next().catch((err) => err)
    await reads.close()
    t.match(await waiting, { code: 'ERR_STREAM_PREMATURE_CLOSE' })
  })

  t.test('after a failure only lets the body go', async (t) => {
    const body = new Readable({ read() {} })
    body.push(Buffer.from('partial'))
    body.push(null)
    const reads = bodyReads(body as unknown as BodyStream)
    reads.failed()
    await reads.close()
    t.ok(body.destroyed)
    t.notOk(body.readableEnded, 'not read')
  })
})

t.test('real undici bodies from a node:http upstream', async (t) => {
  const server: Server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    if (req.url === '/cut') {
      res.write('data: a\n\n')
      return void setTimeout(() => res.socket?.destroy(), 20)
    }
    let n = 0
    const timer = setInterval(() => {
      res.write(`data: ${n}\n\n`)
      if (++n === 5) {
        clearInterval(timer)
        res.end()
      }
    }, 5)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  t.teardown(async () => {
    await pool.close()
    server.close()
  })

  const whole = await pool.request({ path: '/', method: 'GET' })
  t.same(await readWithBodyReads(whole.body as unknown as Readable), { text: [0, 1, 2, 3, 4].map((n) => `data: ${n}\n\n`).join(''), end: 'end' }, 'every read, in order, then the end')

  const cut = await pool.request({ path: '/cut', method: 'GET' })
  const result = await readWithBodyReads(cut.body as unknown as Readable)
  t.match(result, { text: 'data: a\n\n', end: 'error' }, 'a socket closed mid-body is an error after the bytes that came')
  t.match(result.code, /UND_ERR_SOCKET|ECONNRESET|ERR_STREAM_PREMATURE_CLOSE/, `undici's own error (${result.code})`)
})
