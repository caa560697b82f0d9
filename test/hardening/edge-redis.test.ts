// Issue 9 item 12: a hung Redis (process stopped with SIGSTOP, connection still open) or a
// dead one never makes a request hang: rate limiting fails open, sessions fail fast with a
// clear 503, and both recover on their own when Redis returns (SIGCONT / restart).
// A real redis-server (test/helpers/redis-server.ts).
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson, type Gateway } from '../helpers/gateway.ts'
import { redisPid, startRedisServer } from '../helpers/redis-server.ts'
import { waitFor } from '../helpers/wait.ts'

const KEY = 'gw-redis-test-key-1'
const auth = { authorization: `Bearer ${KEY}` }
/** Far above REDIS_TIMEOUT_MS: a request that takes this long is "hanging", whatever the machine. */
const HANG_MS = 8_000

/** A request that must not hang: aborted (and failed) past HANG_MS. Returns status and elapsed ms. */
async function timed(gw: Gateway, path: string, body?: unknown) {
  const started = performance.now()
  const res = await fetch(`${gw.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(HANG_MS),
  })
  const json = await res.json() as any
  return { status: res.status, json, headers: res.headers, ms: Math.round(performance.now() - started) }
}

const sessionChat = (id: string) => ({ model: 'gpt-4o-mini', session_id: id, messages: [{ role: 'user', content: 'hi' }] })

async function fixture(t: Test) {
  const redis = await startRedisServer()
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '200', RATE_LIMIT_MAX: '1000', GATEWAY_API_KEYS: KEY })
  t.teardown(async () => { await gw.close(); await mock.close(); await redis.close() })
  return { redis, mock, gw }
}

t.test('hung Redis (SIGSTOP): requests pass unlimited, sessions 503 at once, all recovers on SIGCONT', async (t) => {
  const { redis, gw } = await fixture(t)
  const id = randomUUID()
  t.equal((await timed(gw, '/v1/chat/completions', sessionChat(id))).status, 200, 'healthy: a session turn')
  t.equal((await timed(gw, '/v1/models')).headers.get('x-ratelimit-remaining') !== null, true, 'healthy: limited')

  const pid = await redisPid(redis.url)
  process.kill(pid, 'SIGSTOP')
  let resumed = false
  const resume = () => { if (!resumed) { resumed = true; process.kill(pid, 'SIGCONT') } }
  t.teardown(resume)

  const models = await timed(gw, '/v1/models')
  t.equal(models.status, 200, 'rate limiting fails open: the request is answered')
  const turn = await timed(gw, '/v1/chat/completions', sessionChat(id))
  t.equal(turn.status, 503, 'a session request fails fast')
  t.equal(turn.json.error.code, 'session_store_unavailable')
  const read = await timed(gw, `/sessions/${id}`)
  t.equal(read.status, 503, 'reading a session too')
  const plain = await timed(gw, '/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
  t.equal(plain.status, 200, 'a request without a session is answered')
  t.comment(`hung Redis, REDIS_TIMEOUT_MS=200: /v1/models ${models.ms} ms, session turn ${turn.ms} ms, GET session ${read.ms} ms, chat without session ${plain.ms} ms`)

  resume()
  await waitFor(async () => (await timed(gw, `/sessions/${id}`)).status === 200, 'sessions readable again after SIGCONT', 10_000)
  const again = await timed(gw, '/v1/chat/completions', sessionChat(id))
  t.equal(again.status, 200, 'session turns work again')
  t.equal((await timed(gw, `/sessions/${id}`)).json.messages.length, 4, 'the turn lost during the hang was not replayed late: two turns stored')
  t.match((await timed(gw, '/v1/models')).headers.get('x-ratelimit-remaining'), /^\d+$/, 'limited again')
})

t.test('dead Redis: fail open and 503 at once (no 10 s reconnect wait), recovered after a restart on the same port', async (t) => {
  const { redis, gw } = await fixture(t)
  const id = randomUUID()
  t.equal((await timed(gw, '/v1/chat/completions', sessionChat(id))).status, 200)
  await redis.close()
  await waitFor(() => gw.app.redis!.status !== 'ready', 'the client noticed', 5_000)

  const models = await timed(gw, '/v1/models')
  t.equal(models.status, 200, 'answered without its rate-limit store')
  const turn = await timed(gw, '/v1/chat/completions', sessionChat(id))
  t.equal(turn.status, 503)
  t.equal(turn.json.error.code, 'session_store_unavailable')
  t.comment(`dead Redis: /v1/models ${models.ms} ms, session turn ${turn.ms} ms`)

  const back = await startRedisServer({ port: redis.port })
  t.teardown(() => back.close())
  await waitFor(async () => (await timed(gw, '/v1/chat/completions', sessionChat(id))).status === 200, 'session turns work after the restart', 10_000)
  t.match((await timed(gw, '/v1/models')).headers.get('x-ratelimit-remaining'), /^\d+$/, 'limited again')
})

t.test('failFastWhileHung: two timeouts in a row and the next commands fail at once, until a probe succeeds', async (t) => {
  const { failFastWhileHung, redisOptions } = await import('../../plugins/redis.ts')
  const redis = await startRedisServer()
  t.teardown(() => redis.close())
  const client = new Redis(redis.url, redisOptions(100))
  t.teardown(() => client.disconnect())
  failFastWhileHung(client, 100, 300)
  await waitFor(() => client.status === 'ready', 'connected (no offline queue: commands before that fail)')
  t.equal(await client.set('k', 'v'), 'OK')
  const pid = await redisPid(redis.url)
  process.kill(pid, 'SIGSTOP')
  let resumed = false
  const resume = () => { if (!resumed) { resumed = true; process.kill(pid, 'SIGCONT') } }
  t.teardown(resume)
  const reason = (p: Promise<unknown>) => p.then(() => 'answered', (err: Error) => err.message)
  t.equal(await reason(client.get('k')), 'Command timed out', 'one timeout')
  t.equal(await reason(client.get('k')), 'Command timed out', 'two in a row')
  t.match(await reason(client.get('k')), /failing fast/, 'then at once, without waiting for the deadline')
  t.match(await reason(client.multi().get('k').exec()), /failing fast/, 'transactions too')
  resume()
  await waitFor(async () => (await reason(client.get('k'))) === 'answered', 'a probe after the window succeeds', 5_000)
  t.equal(await client.get('k'), 'v', 'and the connection answers the right replies')
})

t.test('redisOptions: every command has a deadline, no offline queue, quick reconnects', async (t) => {
  const { redisOptions, MAX_REDIS_RECONNECT_DELAY_MS } = await import('../../plugins/redis.ts')
  const options = redisOptions(200)
  t.equal(options.commandTimeout, 200)
  t.equal(options.enableOfflineQueue, false)
  t.equal(options.maxRetriesPerRequest, 0)
  t.ok(options.connectTimeout >= 200)
  t.equal(options.retryStrategy(1_000), MAX_REDIS_RECONNECT_DELAY_MS)
})
