// The response cache through a Redis outage, on a real redis-server: while Redis is gone or
// hung each instance serves and fills its own bounded memory (an answer cached during the
// outage is a hit for the same request, upstream called once), and once Redis answers again the
// cache is shared again (the memory copy dropped, not copied back). A hung Redis (SIGSTOP) costs
// a request at most one REDIS_TIMEOUT_MS: the cache's one Redis read, no lock attempt after it.
import t, { type Test } from 'tap'
import { Redis, type Command } from 'ioredis'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { redisPid, startRedisServer, type RedisServer } from '../helpers/redis-server.ts'
import { waitFor } from '../helpers/wait.ts'

const ask = (content: string) => ({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content }] })
const chat = (gw: Gateway, content: string) => postJson(`${gw.url}/v1/chat/completions`, ask(content))
const asked = (mock: OpenAIMock, content: string) => mock.chatRequests().filter((r) => JSON.stringify(r.body).includes(content)).length
const metric = async (gw: Gateway, name: string) => Number(new RegExp(`^${name} (-?\\d+)$`, 'm').exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1])

/** New requests until the cache's outage log says Redis answers again (each one asks Redis first: the probe). */
async function untilRedisIsBack(gw: Gateway, what: string): Promise<void> {
  let round = 0
  await waitFor(async () => {
    await chat(gw, `probe ${round++}`)
    return gw.logs.some((l) => l.includes('response cache: redis is back'))
  }, what, 10_000)
}

async function fleet(t: Test, redis: RedisServer, env: Record<string, string> = {}, instances = 2) {
  const mock = await startOpenAIMock()
  mock.fallback = { content: 'An answer.' }
  const gatewayEnv = { CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, CACHE_TTL_MS: '60000', REDIS_URL: redis.url, ...env }
  const gws = await Promise.all(Array.from({ length: instances }, () => startGateway(gatewayEnv)))
  t.teardown(async () => {
    for (const gw of gws) await gw.close()
    await mock.close()
  })
  return { gws, mock }
}

t.test('Redis killed: each instance caches in its own memory; Redis back: shared again, the copy dropped', async (t) => {
  const redis = await startRedisServer()
  const { gws: [gw, other], mock } = await fleet(t, redis)
  t.equal((await chat(gw, 'before')).headers.get('x-tiergate-cache'), 'miss')
  t.equal((await chat(other, 'before')).headers.get('x-tiergate-cache'), 'hit', 'shared while Redis is up')
  t.equal(await metric(gw, 'tiergate_cache_local'), 0)

  await redis.close()
  await waitFor(() => gw.app.redis!.status !== 'ready' && other.app.redis!.status !== 'ready', 'the clients noticed')
  const first = await chat(gw, 'during')
  t.equal(first.status, 200)
  t.equal(first.headers.get('x-tiergate-cache'), 'miss')
  const again = await chat(gw, 'during')
  t.equal(again.headers.get('x-tiergate-cache'), 'hit', 'cached during the outage: a hit for the same request')
  t.equal(again.json.choices[0].message.content, 'An answer.')
  t.equal(asked(mock, 'during'), 1, 'upstream called once')
  t.equal((await chat(other, 'during')).headers.get('x-tiergate-cache'), 'miss', 'the memory copy is per instance')
  t.equal(await metric(gw, 'tiergate_cache_local'), 1, 'the metrics say the cache is local now')
  t.equal(await metric(gw, 'tiergate_cache_local_entries'), 1)
  t.ok(await metric(gw, 'tiergate_cache_local_bytes') > 0)
  t.equal(await metric(gw, 'tiergate_cache_entries'), -1, 'the Redis store\'s own gauge is unchanged')
  t.equal(gw.logs.filter((l) => l.includes('response cache: redis unavailable')).length, 1, 'the outage logged once')

  const back = await startRedisServer({ port: redis.port })
  t.teardown(() => back.close())
  await untilRedisIsBack(gw, 'the cache to use Redis again')
  t.equal(await metric(gw, 'tiergate_cache_local'), 0)
  t.equal(await metric(gw, 'tiergate_cache_local_entries'), 0, 'the memory copy was dropped')
  t.equal((await chat(gw, 'during')).headers.get('x-tiergate-cache'), 'miss', 'and not copied back to Redis')
  t.equal((await chat(other, 'during')).headers.get('x-tiergate-cache'), 'hit', 'the fresh answer went to Redis: shared again')
  const inspector = new Redis(back.url)
  t.teardown(() => inspector.quit())
  t.ok((await inspector.keys('tiergate:cache:*')).length >= 1, 'entries are in Redis')
  t.equal(await metric(gw, 'tiergate_cache_local_entries'), 0, 'and not in memory')
})

t.test('Redis hung (SIGSTOP): a request waits out at most one REDIS_TIMEOUT_MS, and what it cached is a hit', async (t) => {
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  // Only the cache touches Redis on these requests: rate limiting and affinity would add their own deadline.
  const { gws: [gw], mock } = await fleet(t, redis, { REDIS_TIMEOUT_MS: '300', RATE_LIMIT_MAX: '0', AFFINITY_TTL_MS: '0' }, 1)
  const client = gw.app.redis!
  // Every Redis command that ran into its deadline: when it was sent, when it timed out.
  const timedOut: Array<{ sent: number; at: number }> = []
  const send = client.sendCommand.bind(client)
  client.sendCommand = (command: Command, stream?: Parameters<Redis['sendCommand']>[1]) => {
    const sent = performance.now()
    const result = send(command, stream)
    command.promise.catch((err: Error) => { if (err.message === 'Command timed out') timedOut.push({ sent, at: performance.now() }) })
    return result
  }
  t.equal((await chat(gw, 'before')).headers.get('x-tiergate-cache'), 'miss')
  const pid = await redisPid(redis.url)
  process.kill(pid, 'SIGSTOP')
  let resumed = false
  const resume = () => { if (!resumed) { resumed = true; process.kill(pid, 'SIGCONT') } }
  t.teardown(resume)

  /** A request, and the deadlines it waited out: its own commands that timed out before its answer came (a cache fill times out after). */
  const waitedDuring = async (content: string) => {
    const started = performance.now()
    const res = await chat(gw, content)
    const answered = performance.now()
    const deadlines = timedOut.filter((c) => c.sent >= started && c.at <= answered).length
    return { res, deadlines, ms: Math.round(answered - started) }
  }
  const first = await waitedDuring('hung')
  t.equal(first.res.status, 200)
  t.equal(first.res.headers.get('x-tiergate-cache'), 'miss')
  t.equal(first.deadlines, 1, 'the first request waited out one Redis deadline (its cache read), not a lock attempt after it')
  const second = await waitedDuring('hung')
  t.equal(second.res.headers.get('x-tiergate-cache'), 'hit', 'what it cached is a hit during the hang')
  t.ok(second.deadlines <= 1, `at most one deadline (${second.deadlines})`)
  const third = await waitedDuring('hung')
  t.equal(third.res.headers.get('x-tiergate-cache'), 'hit')
  t.ok(third.deadlines <= 1, `at most one deadline (${third.deadlines})`)
  t.equal(asked(mock, 'hung'), 1, 'upstream called once')
  t.comment(`hung Redis, REDIS_TIMEOUT_MS=300: first request ${first.ms} ms (deadlines waited out: ${first.deadlines}), the hits ${second.ms} ms (${second.deadlines}) and ${third.ms} ms (${third.deadlines})`)

  resume()
  await untilRedisIsBack(gw, 'the cache to use Redis again after SIGCONT')
  t.equal(await metric(gw, 'tiergate_cache_local'), 0)
})
