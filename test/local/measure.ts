// Measures the local provider on the tiny generated model, through a real gateway:
//   node test/local/measure.ts
// load time (first request), tokens/s while streaming, and the event loop's delay meanwhile
// (the gateway runs in this process, so the histogram is the gateway's own loop).
// Numbers, not assertions: tests never assert speed.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeTinyGguf } from '../setup/tiny-gguf.ts'
import { startGateway } from '../helpers/gateway.ts'

const dir = mkdtempSync(join(tmpdir(), 'tiergate-measure-'))
const modelPath = writeTinyGguf(join(dir, 'tiny.gguf'))
const threads = process.argv[2] ?? '1'
const gw = await startGateway({ LOCAL_MODEL_PATH: modelPath, LOCAL_GPU: 'false', LOCAL_THREADS: threads, LOG_LEVEL: 'warn' })
try {
  let started = performance.now()
  await gw.client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })
  const firstMs = performance.now() - started
  const loadMs = (gw.app.providers.get('local')!.provider.status!() as { loadMs: number }).loadMs
  // The same loop with nothing generating, for comparison (the machine may be busy).
  const idle = monitorEventLoopDelay({ resolution: 1 })
  idle.enable()
  await new Promise((r) => setTimeout(r, 2000))
  idle.disable()
  const tokens = 500
  const rounds: number[] = []
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  for (let round = 0; round < 5; round++) {
    started = performance.now()
    const stream = await gw.client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: `round ${round}` }], max_tokens: tokens, stream: true })
    let n = 0
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) n++
    rounds.push(n / ((performance.now() - started) / 1000))
  }
  delay.disable()
  rounds.sort((a, b) => a - b)
  console.log(JSON.stringify({
    modelBytes: (await import('node:fs')).statSync(modelPath).size,
    threads: Number(threads),
    firstRequestMs: Math.round(firstMs),
    loadMs,
    tokensPerSecondMedian: Math.round(rounds[2]),
    tokensPerSecondRange: [Math.round(rounds[0]), Math.round(rounds[4])],
    eventLoopDelayIdleMs: { p50: +(idle.percentile(50) / 1e6).toFixed(2), p99: +(idle.percentile(99) / 1e6).toFixed(2), max: +(idle.max / 1e6).toFixed(2) },
    eventLoopDelayMs: { p50: +(delay.percentile(50) / 1e6).toFixed(2), p99: +(delay.percentile(99) / 1e6).toFixed(2), max: +(delay.max / 1e6).toFixed(2) },
  }, null, 2))
} finally {
  await gw.close()
  rmSync(dir, { recursive: true, force: true })
}
