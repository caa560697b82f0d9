// Health-aware order inside a tier: a provider that errors or is much slower than its peer
// gets less traffic, yet never none (probes), and wins its share back once it recovers.
// Breakers are set out of the way (huge volume threshold): this is about ordering alone.
import t from 'tap'
import { startTiers, chat } from './setup.ts'
import { PROBE_EVERY } from '../../plugins/router/candidates.ts'

const NO_BREAKERS = { BREAKER_VOLUME_THRESHOLD: '100000' }
const served = (mock: { chatRequests(): unknown[] }) => mock.chatRequests().length

t.test('an erroring provider is demoted inside its tier, probed, and back in rotation once healthy', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'alpha', tier: 1 }, { name: 'beta', tier: 1 }, { name: 'backup', tier: 2 }], NO_BREAKERS)
  mocks.beta.fallback = { fault: 'status', status: 500 }

  const erroring = 4 * PROBE_EVERY
  const answeredBy: string[] = []
  for (let i = 0; i < erroring; i++) {
    const res = await chat(gw)
    answeredBy.push(res.status === 200 ? res.headers.get('x-tiergate-provider')! : `HTTP ${res.status}`)
  }
  t.same([...new Set(answeredBy)], ['alpha'], 'every request answered, by the healthy peer in the same tier')
  const betaWhileFailing = served(mocks.beta)
  t.ok(betaWhileFailing >= 2, `the failing provider was still probed (${betaWhileFailing} of ${erroring})`)
  t.ok(betaWhileFailing <= erroring / 4, `but got far less than its round-robin half (${betaWhileFailing} of ${erroring})`)
  t.equal(served(mocks.backup), 0)

  // Healthy again: probes see it, its error rate decays, and it rejoins the rotation.
  mocks.beta.fallback = { content: 'Hello from beta' }
  for (let i = 0; i < 20 * PROBE_EVERY; i++) await chat(gw)
  const before = served(mocks.beta)
  const window = 4 * PROBE_EVERY
  for (let i = 0; i < window; i++) await chat(gw)
  const share = served(mocks.beta) - before
  t.ok(share >= window / 3, `recovered: ${share} of the last ${window} requests (round-robin again)`)
})

t.test('a much slower provider gets less traffic, but not none', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'alpha', tier: 1 }, { name: 'beta', tier: 1 }], NO_BREAKERS)
  // Ten times slower than the 50 ms floor under which latencies count as equal.
  for (let i = 0; i < 200; i++) mocks.beta.script({ fault: 'delay', ms: 500 })
  const total = 6 * PROBE_EVERY
  const statuses = new Set<number>()
  for (let i = 0; i < total; i++) statuses.add((await chat(gw)).status)
  t.same([...statuses], [200])
  const slow = served(mocks.beta)
  t.ok(slow >= 2, `the slow provider still gets probes (${slow} of ${total})`)
  t.ok(slow <= total / 5, `far fewer than half (${slow} of ${total})`)
  t.ok(served(mocks.alpha) >= total * 0.8, `the fast one carries the tier (${served(mocks.alpha)} of ${total})`)
})

t.test('latency noise under the floor does not move traffic: equals share round-robin', async (t) => {
  const { gw, mocks } = await startTiers(t, [{ name: 'alpha', tier: 1 }, { name: 'beta', tier: 1 }], NO_BREAKERS)
  for (let i = 0; i < 8; i++) mocks.beta.script({ fault: 'delay', ms: 10 })
  for (let i = 0; i < 20; i++) await chat(gw)
  // Round-robin, give or take the one request a probe turn rotates differently.
  t.ok(served(mocks.alpha) >= 9 && served(mocks.beta) >= 9, `alpha ${served(mocks.alpha)}, beta ${served(mocks.beta)}`)
})
