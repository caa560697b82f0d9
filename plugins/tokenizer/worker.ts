// The tokenizer's worker thread: builds the o200k_base encoder once (about a second of CPU)
// and counts the texts it is sent — BPE in JavaScript takes ~2.5 ms per 4 KB, and a coding
// agent's context is hundreds of KB: none of that runs on the gateway's event loop.
import { parentPort } from 'node:worker_threads'
import { encodeTexts } from '../../dialects/anthropic-messages/count-tokens.ts'

parentPort!.on('message', async ({ id, texts }: { id: number; texts: string[] }) => {
  try {
    parentPort!.postMessage({ id, tokens: await encodeTexts(texts) })
  } catch (err) {
    parentPort!.postMessage({ id, error: (err as Error).message })
  }
})
