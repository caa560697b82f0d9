// Synchronous o200k_base token counts for resumed answers, served by a worker thread
// (token-worker.ts) so that building the tokenizer never blocks the gateway's event loop.
// The worker starts at the first resume of the process; until it is ready (about 1.5 s) a
// count is estimated at CHARS_PER_TOKEN, and the result says which it is.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'

/** o200k_base averages about four characters of English per token. */
const CHARS_PER_TOKEN = 4
/** How long one count may block the caller once the worker is ready (a count takes well under 1 ms). */
const COUNT_WAIT_MS = 100

interface Counter {
  worker: Worker
  port: MessagePort
  flag: Int32Array
  ready: Promise<void>
  isReady: boolean
}

let counter: Counter | undefined
/** Tags each question, so a late answer to one that timed out is never taken for the next. */
let nextId = 0

function start(): Counter {
  const flag = new Int32Array(new SharedArrayBuffer(4))
  const { port1, port2 } = new MessageChannel()
  const worker = new Worker(new URL('./token-worker.ts', import.meta.url), { workerData: { port: port2, flag }, transferList: [port2] })
  worker.unref() // never keeps a process alive
  const c: Counter = { worker, port: port1, flag, isReady: false, ready: Promise.resolve() }
  c.ready = new Promise<void>((resolve, reject) => {
    worker.once('message', () => {
      c.isReady = true
      resolve()
    })
    worker.once('error', (err) => {
      counter = undefined // estimated from now on; a later resume tries again
      reject(err)
    })
  })
  c.ready.catch(() => undefined)
  return c
}

/** Starts the worker (idempotent); resolves once exact counts are available. */
export function counterReady(): Promise<void> {
  counter ??= start()
  return counter.ready
}

export interface TokenCount {
  tokens: number
  exact: boolean
}

export function countTokens(text: string): TokenCount {
  if (text.length === 0) return { tokens: 0, exact: true }
  counter ??= start()
  if (counter.isReady) {
    const id = ++nextId
    const { port, flag } = counter
    const deadline = performance.now() + COUNT_WAIT_MS
    // Every answer waiting on the port is read; a late answer to an earlier question is dropped.
    const take = () => {
      for (let m: { id: number; tokens: number } | undefined; (m = receiveMessageOnPort(port)?.message);) if (m.id === id) return m
      return undefined
    }
    port.postMessage({ id, text })
    for (;;) {
      Atomics.store(flag, 0, 0) // before reading: an answer landing after the read sets it again
      const reply = take()
      if (reply) {
        if (reply.tokens >= 0) return { tokens: reply.tokens, exact: true }
        break
      }
      const left = deadline - performance.now()
      if (left <= 0) break
      Atomics.wait(flag, 0, 0, left)
    }
  }
  return { tokens: Math.ceil(text.length / CHARS_PER_TOKEN), exact: false }
}
