// LOCAL_PRELOAD: the model loads at start, before any request; without it, on the first one.
import t from 'tap'
import { startLocalGateway, localStatus } from './fixture.ts'
import { waitFor } from '../helpers/wait.ts'

t.test('LOCAL_PRELOAD=true loads the model at start', async (t) => {
  const gw = await startLocalGateway(t, { LOCAL_PRELOAD: 'true' })
  await waitFor(async () => (await localStatus(gw)).details.state === 'ready', 'the model loaded without a request', 20_000)
  const status = await localStatus(gw)
  t.ok(status.details.loadMs >= 0, 'load time recorded')
  t.equal(status.health.successes, 0, 'no request was needed')
})

t.test('without it nothing is loaded until a request comes', async (t) => {
  const gw = await startLocalGateway(t)
  t.equal((await localStatus(gw)).details.state, 'not_loaded')
})
