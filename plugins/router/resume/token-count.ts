// Synchronous o200k_base token counts for resumed answers, from the process's token counter
// (plugins/tokenizer/counter.ts: a worker thread, shared with count_tokens, so that building
// the tokenizer never blocks the gateway's event loop). The thread starts at the first resume
// and stops after a quiet period; until it is ready (about a second) a count is estimated at
// four characters per token, and the result says which it is.
import { tokenCounter, type TokenCount } from '../../tokenizer/counter.ts'

export type { TokenCount }

/** Starts the counter (idempotent); resolves once exact counts are available. */
export function counterReady(): Promise<void> {
  return tokenCounter.ready()
}

export function countTokens(text: string): TokenCount {
  return tokenCounter.countNow(text)
}
