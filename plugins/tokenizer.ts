// Decorates `app.tokenizer`: token counts for estimates (count_tokens when no Anthropic
// upstream answers), computed by the process's token counter (plugins/tokenizer/counter.ts: a
// worker thread shared with resumed streams, started on first use, stopped after a quiet
// period) so that a count of a long context never stalls the streams on the event loop. If the
// thread cannot run, counting falls back to the event loop (correct, only slower for everyone).
// Depends on nothing.
import fp from 'fastify-plugin'
import { encodeTexts } from '../dialects/anthropic-messages/count-tokens.ts'
import { tokenCounter, type TokenCounter } from './tokenizer/counter.ts'

export interface Tokenizer {
  /** o200k_base tokens in these texts. */
  count(texts: string[]): Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    tokenizer: Tokenizer
  }
}

export class WorkerTokenizer implements Tokenizer {
  readonly #counter: TokenCounter

  constructor(counter: TokenCounter = tokenCounter) {
    this.#counter = counter
  }

  async count(texts: string[]): Promise<number> {
    try {
      return await this.#counter.count(texts)
    } catch {
      return encodeTexts(texts)
    }
  }
}

export default fp(async function tokenizer(app) {
  // The counter is the process's, shared by every app in it (tests build many): closing one app
  // does not stop it; it stops itself when quiet, and never keeps the process alive.
  app.decorate('tokenizer', new WorkerTokenizer())
}, { name: 'tokenizer' })
