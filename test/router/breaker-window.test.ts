// opossum's rolling window, as tiergate configures it: calls are counted, but no latency is kept
// per call. With latency percentiles on (opossum's default), every call's latency stayed in the
// window, and every failure read the window's stats to decide whether to open — concatenating
// and sorting all of them: a provider failing under load cost a sort of every call of the last
// BREAKER_ROLLING_WINDOW_MS per failure (a third of the gateway's CPU in the resumed-stream bench).
import t from 'tap'
import { ProviderBreakers } from '../../plugins/state/breakers.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

const CONFIG = { timeoutMs: 0, errorThresholdPercentage: 50, resetTimeoutMs: 30_000, volumeThreshold: 5, rollingWindowMs: 10_000 }

t.test('a window of 2,000 calls and a failure: counted, no latency kept per call, still closed', async (t) => {
  const breakers = new ProviderBreakers('p', CONFIG, false, () => undefined)
  t.teardown(() => breakers.shutdown())
  for (let i = 0; i < 2000; i++) await breakers.fire('m', async () => 'ok')
  await breakers.fire('m', async () => { throw new UpstreamError('server', 'HTTP 500', { status: 500 }) }).catch(() => undefined)
  const model = breakers.forModel('m')
  t.equal(model.stats.fires, 2001, 'every call counted')
  t.equal(model.stats.failures, 1)
  t.equal(model.stats.latencyTimes.length, 0, 'the model breaker keeps no latency per call')
  t.equal(breakers.provider.stats.latencyTimes.length, 0, 'nor does the provider breaker')
  t.equal(breakers.stateFor('m'), 'closed', 'one failure in 2,001 does not open it')
})

t.test('the error rate still opens it', async (t) => {
  const breakers = new ProviderBreakers('p', CONFIG, false, () => undefined)
  t.teardown(() => breakers.shutdown())
  for (let i = 0; i < 3; i++) await breakers.fire('m', async () => 'ok')
  for (let i = 0; i < 4; i++) await breakers.fire('m', async () => { throw new UpstreamError('server', 'HTTP 500', { status: 500 }) }).catch(() => undefined)
  t.equal(breakers.stateFor('m'), 'open', '4 failures in 7 calls (57 % > 50 %, volume 5 reached)')
})
