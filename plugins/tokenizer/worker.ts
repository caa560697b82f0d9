// The o200k_base counter's thread (counter.ts starts it): one js-tiktoken encoder for the whole
// process, serving two kinds of question. Building the encoder takes about a second of CPU and
// BPE in JavaScript ~2.5 ms per 4 KB: none of that runs on the gateway's event loop.
//   - on `port` (a MessageChannel), one text at a time, asked synchronously by a resumed
//     stream's usage (the main thread waits on `flag` and reads the answer with
//     receiveMessageOnPort); a special-token string is refused (-1: the caller estimates);
//   - on parentPort, a list of texts for count_tokens, encoded in segments, special-token
//     strings counted as the text they are. Between segments the synchronous questions waiting
//     are answered first, so a long count_tokens context never makes a resume wait it out.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads'
import { Tiktoken } from 'js-tiktoken/lite'
import o200k from 'js-tiktoken/ranks/o200k_base'
import { segments } from '../../dialects/anthropic-messages/count-tokens.ts'

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array }

const encoder = new Tiktoken(o200k)
// Only encode() is ever called: decode()'s table (200,000 Uint8Arrays, one per token) goes,
// before the collection below, so that it never stays resident.
;(encoder as unknown as { textMap: Map<number, Uint8Array> }).textMap.clear()
// The first encode compiles the pattern and warms the JIT (several ms): done before 'ready', so
// the first real question is answered as fast as the rest.
encoder.encode('warm up the tokenizer: 123, ünïcödé, <tags> and code()')
// Building the tables leaves ~150 MB of garbage (the split rank file, the decoded tokens) that V8
// would otherwise keep committed while the counter is in use; with --expose-gc (`npm start`) it is
// collected now, in a memory-reducing collection, and the thread idles at ~25 MB of heap.
;(globalThis as { gc?: (options: object) => void }).gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' })

function answerOne({ id, text }: { id: number; text: string }): void {
  let tokens = -1
  try {
    tokens = encoder.encode(text).length
  } catch { /* a special-token string: the caller estimates instead */ }
  port.postMessage({ id, tokens })
  Atomics.store(flag, 0, 1)
  Atomics.notify(flag, 0)
}

function answerWaiting(): void {
  for (let m; (m = receiveMessageOnPort(port));) answerOne(m.message)
}

port.on('message', answerOne)

parentPort!.on('message', ({ id, texts }: { id: number; texts: string[] }) => {
  try {
    let tokens = 0
    for (const text of texts) {
      for (const segment of segments(text)) {
        tokens += encoder.encode(segment, [], []).length
        answerWaiting()
      }
    }
    parentPort!.postMessage({ id, tokens })
  } catch (err) {
    parentPort!.postMessage({ id, error: (err as Error).message })
  }
})

parentPort!.postMessage('ready')
