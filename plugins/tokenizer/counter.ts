// The process's one o200k_base token counter: a worker thread (worker.ts) started by the first
// count, shared by the resumed streams' usage (router/resume/token-count.ts, synchronous) and
// count_tokens estimates (plugins/tokenizer.ts, asynchronous). One thread instead of one per use
// means one copy of js-tiktoken's tables in memory, and a counter that has had nothing to count
// for `idleStopMs` is stopped (its thread and heap go) and started again by the next count.
// It never keeps the process alive. Depends on nothing.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'

/** o200k_base averages about four characters of English per token. */
export const CHARS_PER_TOKEN = 4
/** How long one synchronous count may block the caller once the thread is ready (a count takes well under 1 ms). */
const SYNC_WAIT_MS = 100
/** A counter with nothing to count this long is stopped. */
export const IDLE_STOP_MS = 5 * 60_000

export interface TokenCount {
  tokens: number
  /** false: estimated at CHARS_PER_TOKEN (the thread not ready yet, busy past SYNC_WAIT_MS, or a special-token string). */
  exact: boolean
}

interface Thread {
  worker: Worker
  /** Synchronous questions: read with receiveMessageOnPort, never through an event. */
  port: MessagePort
  /** Set to 1 by the thread after each synchronous answer. */
  flag: Int32Array
  ready: Promise<void>
  isReady: boolean
  /** Fails `ready` (the thread ended before it was ready). */
  abandon: (err: Error) => void
}

type Pending = { resolve: (tokens: number) => void; reject: (err: Error) => void }

export const estimateTokens = (text: string) => Math.ceil(text.length / CHARS_PER_TOKEN)

export class TokenCounter {
  readonly #idleStopMs: number
  #thread: Thread | undefined
  /** Tags each question, so a late answer to one that timed out is never taken for the next. */
  #nextId = 0
  readonly #pending = new Map<number, Pending>()
  #lastUse = 0
  #idleTimer: NodeJS.Timeout | undefined

  constructor({ idleStopMs = IDLE_STOP_MS }: { idleStopMs?: number } = {}) {
    this.#idleStopMs = idleStopMs
  }

  /** 'stopped' (no thread: before the first count, or after a quiet period), 'starting' or 'ready'. */
  get state(): 'stopped' | 'starting' | 'ready' {
    return this.#thread === undefined ? 'stopped' : this.#thread.isReady ? 'ready' : 'starting'
  }

  /** Starts the thread (idempotent); resolves once exact counts are available. */
  ready(): Promise<void> {
    return this.#use().ready
  }

  /**
   * Tokens in one text, synchronously: exact once the thread is ready, else (and for a
   * special-token string, or a thread busier than SYNC_WAIT_MS) the estimate, returned at once.
   */
  countNow(text: string): TokenCount {
    if (text.length === 0) return { tokens: 0, exact: true }
    const thread = this.#use()
    if (thread.isReady) {
      const id = ++this.#nextId
      const { port, flag } = thread
      const deadline = performance.now() + SYNC_WAIT_MS
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
    return { tokens: estimateTokens(text), exact: false }
  }

  /** Tokens in these texts, special-token strings counted as text; rejects if the thread fails. */
  async count(texts: string[]): Promise<number> {
    const { worker } = this.#use()
    const id = ++this.#nextId
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#holdProcess()
      worker.postMessage({ id, texts })
    })
  }

  /** Ends the thread now (the next count starts a new one). */
  async stop(): Promise<void> {
    const thread = this.#thread
    if (!thread) return
    this.#drop(thread, new Error('token counter stopped'))
    await thread.worker.terminate()
  }

  #use(): Thread {
    this.#lastUse = performance.now()
    this.#thread ??= this.#start()
    this.#idleTimer ??= this.#armIdleStop(this.#idleStopMs)
    return this.#thread
  }

  #armIdleStop(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#idleTimer = undefined
      if (!this.#thread) return
      const quietFor = performance.now() - this.#lastUse
      const busy = !this.#thread.isReady || this.#pending.size > 0
      if (quietFor >= this.#idleStopMs && !busy) void this.stop()
      else this.#idleTimer = this.#armIdleStop(Math.max(1, this.#idleStopMs - quietFor))
    }, ms)
    timer.unref()
    return timer
  }

  #start(): Thread {
    const flag = new Int32Array(new SharedArrayBuffer(4))
    const { port1, port2 } = new MessageChannel()
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: { port: port2, flag }, transferList: [port2] })
    const thread: Thread = { worker, port: port1, flag, isReady: false, ready: Promise.resolve(), abandon: () => undefined }
    thread.ready = new Promise<void>((resolve, reject) => {
      thread.abandon = reject
      worker.on('message', (message: 'ready' | { id: number; tokens?: number; error?: string }) => {
        if (message !== 'ready') return this.#settle(message)
        thread.isReady = true
        this.#holdProcess()
        resolve()
      })
    })
    thread.ready.catch(() => undefined)
    // A thread that fails or exits is dropped: its questions fail, the next count starts a new one.
    worker.once('error', (err) => this.#drop(thread, err))
    worker.once('exit', (code) => this.#drop(thread, new Error(`token counter exited (${code})`)))
    return thread
  }

  /**
   * The process is kept alive while a caller awaits the thread (starting, or an asynchronous
   * count in flight), as any awaited I/O would; an idle counter never keeps it (or a test) running.
   */
  #holdProcess(): void {
    const thread = this.#thread
    if (!thread) return
    if (!thread.isReady || this.#pending.size > 0) thread.worker.ref()
    else thread.worker.unref()
  }

  #settle({ id, tokens, error }: { id: number; tokens?: number; error?: string }): void {
    const pending = this.#pending.get(id)
    this.#pending.delete(id)
    this.#holdProcess()
    if (error !== undefined) pending?.reject(new Error(error))
    else pending?.resolve(tokens!)
  }

  #drop(thread: Thread, err: Error): void {
    if (this.#thread !== thread) return
    this.#thread = undefined
    thread.abandon(err)
    thread.port.close()
    for (const pending of this.#pending.values()) pending.reject(err)
    this.#pending.clear()
  }
}

/** The process's counter. */
export const tokenCounter = new TokenCounter()
