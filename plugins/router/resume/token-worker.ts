// The o200k_base token counter, in a worker thread: building js-tiktoken's rank tables takes
// about 1.4 s of CPU and ~230 MB, which on the gateway's own thread would freeze every stream
// in flight at the first resume. The main thread asks synchronously (token-count.ts): it posts
// the text, waits on a shared flag, and reads the answer with receiveMessageOnPort.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { Tiktoken } from 'js-tiktoken/lite'
import o200k from 'js-tiktoken/ranks/o200k_base'

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array }
const encoder = new Tiktoken(o200k)
// The first encode compiles the pattern and warms the JIT (several ms): done before 'ready', so
// the first real question is answered as fast as the rest.
encoder.encode('warm up the tokenizer: 123, ünïcödé, <tags> and code()')

port.on('message', ({ id, text }: { id: number; text: string }) => {
  let tokens = -1
  try {
    tokens = encoder.encode(text).length
  } catch { /* a special-token string: the caller estimates instead */ }
  port.postMessage({ id, tokens })
  Atomics.store(flag, 0, 1)
  Atomics.notify(flag, 0)
})
parentPort!.postMessage('ready')
