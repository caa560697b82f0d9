// Shared provider state: three gateway instances on one real redis-server. A key cooled by a
// 429 (Retry-After) on one instance is left alone by the other two until its deadline, then
// used again; a breaker opened on one is respected by the others until its reset; Redis killed
// mid-traffic loses no request, and sharing resumes when it is back.
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { waitFor } from '../helpers/wait.ts'
import { fingerprint } from '../../providers/key-pool.ts'

const KEY_ALPHA = 'sk-alpha-0000000000001111'
const KEY_BRAVO = 'sk-bravo-0000000000002222'
const RETRY_AFTER_S = 2
const MODEL = 'gpt-4o-mini'
const question = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

// Affinity off: these tests watch the key pool's own rotation (one repeated question would be pinned to one key).
async function fleet(t: Test, redis: RedisServer, env: Record<string, string>): Promise<Gateway[]> {
  const gws = await Promise.all([0, 1, 2].map(() => startGateway({ REDIS_URL: redis.url, RATE_LIMIT_MAX: '0', AFFINITY_TTL_MS: '0', ...env })))
  t.teardown(async () => { for (const gw of gws) await gw.close() })
  await waitFor(() => gws.every((gw) => gw.app.stateSync?.connected() === true), 'every instance subscribed', 10_000)
  return gws
}

async function keyedFleet(t: Test, redis: RedisServer): Promise<{ gws: Gateway[]; mock: OpenAIMock }> {
  const mock = await startOpenAIMock()
  t.teardown(() => mock.close())
  const gws = await fleet(t, redis, { CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, UPSTREAM_API_KEY: `${KEY_ALPHA},${KEY_BRAVO}` })
  return { gws, mock }
}

/** When `gw` considers `key` free again for MODEL (epoch ms), or undefined when it is free now. */
function coolsUntil(gw: Gateway, key: string): number | undefined {
  // One clock reading for the status and the sum: the deadline itself, not a few ms after it.
  const now = Date.now()
  const status = gw.app.providers.get('upstream')!.keys.status(now) as Array<{ fingerprint: string; availableInMs: number }>
  const slot = status.find((s) => s.fingerprint === fingerprint(key))!
  return slot.availableInMs > 0 ? now + slot.availableInMs : undefined
}

/**
 * A request sent this close before a deadline may reach its instance after it: it proves
 * nothing either way about the cooldown (CI once saw the key reused by a request sent 2 ms
 * before the deadline, correctly: it arrived after).
 */
const IN_FLIGHT_SLACK_MS = 20
const alphaCoolsUntil = (gw: Gateway) => coolsUntil(gw, KEY_ALPHA)

const keyOf = (mock: OpenAIMock, index: number) => (String(mock.chatRequests()[index].headers.authorization).endsWith(KEY_ALPHA) ? 'alpha' : 'bravo')
const keyNamed = (name: string) => (name === 'alpha' ? KEY_ALPHA : KEY_BRAVO)

t.test(`a 429 with Retry-After: ${RETRY_AFTER_S} on one instance: the others leave that key alone until then, then use it again`, async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const { gws, mock } = await keyedFleet(t, redis)
  const [a, b, c] = gws
  mock.script({ fault: 'status', status: 429, headers: { 'retry-after': String(RETRY_AFTER_S) } })
  const res = await postJson(`${a.url}/v1/chat/completions`, question)
  t.equal(res.status, 200, 'instance A moved on to its other key at once')
  // Which key met the 429 depends on what used the pool before (discovery may take a key).
  const limited = keyOf(mock, 0)
  t.not(keyOf(mock, 1), limited, 'the retry used the other key')
  const cooled = (gw: Gateway) => coolsUntil(gw, keyNamed(limited))
  const answeredAt = Date.now()
  const deadline = cooled(a)!
  t.ok(deadline > answeredAt, 'A cools that key')

  await waitFor(() => cooled(b) !== undefined && cooled(c) !== undefined, 'B and C to learn the cooldown', 2000)
  const propagationMs = Date.now() - answeredAt
  t.ok(Math.abs(cooled(b)! - deadline) < 50 && Math.abs(cooled(c)! - deadline) < 50, 'the same deadline everywhere')
  t.comment(`cooldown seen by the other instances ${propagationMs} ms after A's answer`)

  // Traffic through B and C until one of them uses the cooled key again.
  const uses: Array<{ sentAt: number; key: string }> = []
  const giveUpAt = deadline + 5000
  for (let i = 0; Date.now() < giveUpAt; i++) {
    const before = mock.chatRequests().length
    const sentAt = Date.now()
    t.equal((await postJson(`${[b, c][i % 2].url}/v1/chat/completions`, question)).status, 200)
    uses.push({ sentAt, key: keyOf(mock, before) })
    if (uses.at(-1)!.key === limited) break
    await pause(20)
  }
  const early = uses.filter((u) => u.sentAt < deadline - IN_FLIGHT_SLACK_MS)
  t.ok(early.length >= 4, `${early.length} requests through B and C inside the window`)
  t.ok(early.every((u) => u.key !== limited), 'none of them used the cooling key')
  const reuse = uses.find((u) => u.key === limited)
  t.ok(reuse, 'the cooled key is used again after the window')
  t.ok(reuse!.sentAt >= deadline - IN_FLIGHT_SLACK_MS, `first reuse ${reuse!.sentAt - deadline} ms after the deadline`)

  // In Redis: a fingerprint, never the key, expiring with the deadline.
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.quit())
  const keys = await inspector.keys('tiergate:state:*')
  t.notMatch(keys.join(' '), /sk-alpha|sk-bravo|0000000000001111|0000000000002222/, 'no key material in Redis keys')
})

t.test('merging: a shorter cooldown from another instance never shortens a longer one', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const { gws } = await keyedFleet(t, redis)
  const [a, b, c] = gws
  const pool = (gw: Gateway) => gw.app.providers.get('upstream')!.keys
  pool(a).rateLimited(KEY_ALPHA, MODEL, 60_000) // A: a 429 with Retry-After: 60
  const later = alphaCoolsUntil(a)!
  await waitFor(() => alphaCoolsUntil(b) !== undefined && alphaCoolsUntil(c) !== undefined, 'B and C to learn the long cooldown')
  pool(b).rateLimited(KEY_ALPHA, MODEL, 3_000) // B: a later 429 with Retry-After: 3
  const inspector = new Redis(redis.url)
  t.teardown(() => inspector.quit())
  const [key] = await inspector.keys('tiergate:state:cooldown:*')
  t.ok(await inspector.pttl(key) > 50_000, 'Redis keeps the later deadline, with its TTL')
  // Give the shorter one every chance to arrive: a fresh change published after it is seen first.
  pool(b).rateLimited(KEY_BRAVO, 'marker-model', 10_000)
  await waitFor(() => (pool(a).status() as any[]).some((s) => s.models.some((m: any) => m.model === 'marker-model')), 'a later event to reach A')
  t.ok(Math.abs(alphaCoolsUntil(a)! - later) < 50, 'A keeps the later deadline')
  t.ok(Math.abs(alphaCoolsUntil(c)! - later) < 50, 'C keeps the later deadline')
})

t.test('a breaker opened on one instance: the others skip that provider/model until its reset', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const first = await startOpenAIMock()
  const second = await startOpenAIMock()
  t.teardown(async () => { await first.close(); await second.close() })
  const resetMs = 1500
  const gws = await fleet(t, redis, {
    CUSTOM_PROVIDERS: 'first,second', FIRST_BASE_URL: first.baseUrl, PROVIDER_PRIORITY_FIRST: '1', SECOND_BASE_URL: second.baseUrl, PROVIDER_PRIORITY_SECOND: '2',
    BREAKER_VOLUME_THRESHOLD: '2', BREAKER_ERROR_THRESHOLD_PERCENTAGE: '50', BREAKER_RESET_TIMEOUT_MS: String(resetMs),
  })
  const [a, b, c] = gws
  const modelBreakerOpen = (gw: Gateway) => gw.app.providers.get('first')!.breakers.snapshot().some((s) => s.model === MODEL && s.state === 'open')
  first.fallback = { fault: 'status', status: 500 }
  // When the request that opened it was sent: a lower bound on the opening (taking the time
  // after its answer, which on a loaded machine came 100+ ms later, once failed the reset check).
  let openedAt = 0
  await waitFor(async () => {
    openedAt = Date.now()
    await postJson(`${a.url}/v1/chat/completions`, question)
    return modelBreakerOpen(a)
  }, 'A\'s breaker for first/gpt-4o-mini to open')
  await waitFor(() => modelBreakerOpen(b) && modelBreakerOpen(c), 'B and C to open theirs', 2000)
  t.comment(`breaker seen open by the other instances ${Date.now() - openedAt} ms after A opened it`)
  first.fallback = { content: 'first is back' }
  const before = first.chatRequests().length
  let firstAgainAt: number | undefined
  let skipped = 0
  while (Date.now() < openedAt + resetMs + 5000) {
    const sentAt = Date.now()
    const res = await postJson(`${[b, c][skipped % 2].url}/v1/chat/completions`, question)
    t.equal(res.status, 200)
    if (res.headers.get('x-tiergate-provider') === 'first') {
      firstAgainAt = sentAt
      break
    }
    skipped++
    await pause(20)
  }
  t.ok(skipped >= 4, `${skipped} requests through B and C went to second while the breaker was open`)
  t.equal(first.chatRequests().length - before, 1, 'first got nothing from B or C but the half-open trial')
  t.ok(firstAgainAt !== undefined && firstAgainAt >= openedAt + resetMs - 100, `first used again ${firstAgainAt! - openedAt} ms after it opened (reset ${resetMs} ms)`)
})

t.test('Redis killed mid-traffic: every request answered from local state; Redis back: sharing resumes', async (t) => {
  const redis = await startRedisServer()
  const { gws, mock } = await keyedFleet(t, redis)
  const [a, b] = gws
  let stop = false
  const statuses: number[] = []
  const traffic = gws.map(async (gw) => {
    while (!stop) {
      statuses.push((await postJson(`${gw.url}/v1/chat/completions`, question)).status)
      await pause(5)
    }
  })
  await waitFor(() => statuses.length >= 30, 'traffic')
  await redis.close()
  const killedAt = statuses.length
  await waitFor(() => statuses.length >= killedAt + 60, 'traffic without Redis', 10_000)
  // While Redis is down a 429 on A still cools the key on A, at once.
  mock.script({ fault: 'status', status: 429, headers: { 'retry-after': '30' } })
  const cooling = (gw: Gateway) => (gw.app.providers.get('upstream')!.keys.status() as Array<{ fingerprint: string; availableInMs: number }>).filter((k) => k.availableInMs > 0).map((k) => k.fingerprint)
  await waitFor(() => gws.some((gw) => cooling(gw).length > 0), 'a local cooldown without Redis')
  const learner = gws.find((gw) => cooling(gw).length > 0)!
  const [cooled] = cooling(learner)
  t.ok(gws.filter((gw) => gw !== learner).every((gw) => !cooling(gw).includes(cooled)), 'the others do not know it yet (Redis is down)')
  const back = await startRedisServer({ port: redis.port })
  t.teardown(() => back.close())
  await waitFor(() => gws.every((gw) => gw.app.stateSync?.connected() === true), 'every instance to re-subscribe', 15_000)
  // What an instance learned alone is shared once Redis is back.
  await waitFor(() => gws.every((gw) => cooling(gw).includes(cooled)), 'the cooldown learned during the outage to reach every instance', 5_000)
  stop = true
  await Promise.all(traffic)
  t.ok(statuses.length > killedAt + 60)
  t.same(statuses.filter((s) => s !== 200), [], `all ${statuses.length} requests answered 200`)
  t.equal(a.logs.filter((l) => l.includes('shared provider state: redis unavailable')).length, 1, 'the outage is logged once')
  t.ok(b.logs.some((l) => l.includes('shared provider state: redis is back')), 'and its end')

  // And a fresh change propagates again.
  b.app.providers.get('upstream')!.keys.rateLimited(KEY_BRAVO, 'other-model', 20_000)
  await waitFor(() => (a.app.providers.get('upstream')!.keys.status() as any[]).some((s) => s.models.some((m: any) => m.model === 'other-model')), 'a new cooldown to reach A')
  t.pass('sharing resumed')
})
