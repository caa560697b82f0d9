// Decorates `app.tokenizer`: token counts for estimates (count_tokens when no Anthropic
// upstream answers), computed in a worker thread (plugins/tokenizer/worker.ts) so that a count
// of a long context never stalls the streams on the event loop. The worker starts on first use,
// does not keep the process alive, and is terminated on close; if it cannot run, counting
// falls back to the event loop (correct, only slower for everyone). Depends on nothing.
import fp from 'fastify-plugin'
import { Worker } from 'node:worker_threads'
import { encodeTexts } from '../dialects/anthropic-messages/count-tokens.ts'

export interface Tokenizer {
  /** o200k_base tokens in these texts. */
  count(texts: string[]): Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    tokenizer: Tokenizer
  }
}

type Pending = { resolve: (tokens: number) => void; reject: (err: Error) => void }

export class WorkerTokenizer implements Tokenizer {
  #worker: Worker | undefined
  #nextId = 0
  readonly #pending = new Map<number, Pending>()
  #broken = false

  #start(): Worker {
    const worker = new Worker(new URL('./tokenizer/worker.ts', import.meta.url))
    worker.unref() // an idle tokenizer never keeps the gateway (or a test) running
    worker.on('message', ({ id, tokens, error }: { id: number; tokens?: number; error?: string }) => {
      const pending = this.#pending.get(id)
      this.#pending.delete(id)
      if (error !== undefined) pending?.reject(new Error(error))
      else pending?.resolve(tokens!)
    })
    const fail = (err: Error) => {
      this.#broken = true
      this.#worker = undefined
      for (const pending of this.#pending.values()) pending.reject(err)
      this.#pending.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => { if (this.#worker === worker) fail(new Error(`tokenizer worker exited (${code})`)) })
    return worker
  }

  async count(texts: string[]): Promise<number> {
    if (this.#broken) return encodeTexts(texts)
    this.#worker ??= this.#start()
    const id = this.#nextId++
    try {
      return await new Promise<number>((resolve, reject) => {
        this.#pending.set(id, { resolve, reject })
        this.#worker!.postMessage({ id, texts })
      })
    } catch {
      return encodeTexts(texts)
    }
  }

  async close(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }
}

export default fp(async function tokenizer(app) {
  const tokenizer = new WorkerTokenizer()
  app.decorate('tokenizer', tokenizer)
  app.addHook('onClose', () => tokenizer.close())
}, { name: 'tokenizer' })
