// The fleet as a user meets it: three tiergate instances on one redis-server behind a real
// nginx load balancer (round-robin). Through the balancer: a rate-limited key is respected by
// every instance (item 1), identical requests are paid for once (items 2, 3), a conversation
// stays on its warm key (item 4), killing Redis loses no request, and rate limits key on the
// client's address behind the proxy (TRUST_PROXY, item 7). Prints the numbers the README cites.
import t from 'tap'
import http from 'node:http'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { startRedisServer } from '../helpers/redis-server.ts'
import { startNginx } from '../helpers/nginx.ts'
import { waitFor } from '../helpers/wait.ts'
import { fingerprint } from '../../providers/key-pool.ts'

const KEY_ALPHA = 'sk-alpha-0000000000001111'
const KEY_BRAVO = 'sk-bravo-0000000000002222'
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

const redis = await startRedisServer()
const mock = await startOpenAIMock()
const gws: Gateway[] = []
for (let i = 0; i < 3; i++) {
  gws.push(await startGateway({
    CUSTOM_PROVIDERS: 'upstream', UPSTREAM_BASE_URL: mock.baseUrl, UPSTREAM_API_KEY: `${KEY_ALPHA},${KEY_BRAVO}`,
    REDIS_URL: redis.url, CACHE_TTL_MS: '60000', TRUST_PROXY: '127.0.0.1', RATE_LIMIT_MAX: '100000',
  }))
}
const nginx = await startNginx(gws.map((gw) => new URL(gw.url).host))
t.teardown(async () => {
  await nginx.close()
  for (const gw of gws) await gw.close()
  await mock.close()
  await redis.close()
})
await waitFor(() => gws.every((gw) => gw.app.stateSync?.connected() === true), 'every instance on Redis', 10_000)

/** Which instance answered: each counts its own chat requests in its metrics. */
async function served(): Promise<number[]> {
  return Promise.all(gws.map(async (gw) => {
    const text = await (await fetch(`${gw.url}/metrics`)).text()
    return text.split('\n').filter((l) => l.startsWith('tiergate_http_requests_total{') && l.includes('route="/v1/chat/completions"'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
  }))
}

async function chat(body: unknown, options: { headers?: Record<string, string> } = {}) {
  const res = await fetch(`${nginx.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...options.headers }, body: JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: text.startsWith('{') ? JSON.parse(text) : undefined, text }
}
const keyUsed = (i: number) => (String(mock.chatRequests()[i].headers.authorization).endsWith(KEY_ALPHA) ? 'alpha' : 'bravo')
const availableInMs = (gw: Gateway, key: string) => (gw.app.providers.get('upstream')!.keys.status() as Array<{ fingerprint: string; availableInMs: number }>)
  .find((k) => k.fingerprint === fingerprint(key))!.availableInMs
const cooling = (gw: Gateway, key: string) => availableInMs(gw, key) > 0
const alphaCooling = (gw: Gateway) => cooling(gw, KEY_ALPHA)

t.test('the balancer spreads requests over the three instances', async (t) => {
  const before = await served()
  for (let i = 0; i < 9; i++) t.equal((await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `spread ${i}` }] })).status, 200)
  const after = (await served()).map((n, i) => n - before[i])
  t.ok(after.every((n) => n >= 2), `requests per instance: ${after.join(', ')}`)
})

t.test('item 1: a 429 seen by one instance cools that key on all of them', async (t) => {
  mock.script({ fault: 'status', status: 429, headers: { 'retry-after': '2' } })
  const start = mock.chatRequests().length
  let index = start
  // Find the request that met the 429 (the balancer chose its instance).
  const res = await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'meets a 429' }] })
  t.equal(res.status, 200, 'answered with the other key')
  const limitedKey = keyUsed(start)
  const answeredAt = Date.now()
  await waitFor(() => gws.every((gw) => cooling(gw, limitedKey === 'alpha' ? KEY_ALPHA : KEY_BRAVO)), 'every instance to cool the key', 2000)
  t.comment(`cooldown on every instance ${Date.now() - answeredAt} ms after the answer`)
  index = mock.chatRequests().length
  // The window is the instances' own cooldown (it started when the 429 arrived, before the
  // client had its answer: on a loaded machine that gap alone once passed a fixed margin),
  // less the time a request takes to reach an instance through nginx.
  const limited = limitedKey === 'alpha' ? KEY_ALPHA : KEY_BRAVO
  const deadline = Math.min(...gws.map((gw) => Date.now() + availableInMs(gw, limited))) - 150
  let inWindow = 0
  while (Date.now() < deadline) {
    t.equal((await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `in the window ${inWindow}` }] })).status, 200)
    t.not(keyUsed(index++), limitedKey, 'not the cooling key')
    inWindow++
    await pause(25)
  }
  t.ok(inWindow >= 5, `${inWindow} requests through the balancer inside the 2 s window, none on the cooling key`)
  await waitFor(async () => {
    await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `after the window ${index}` }] })
    return keyUsed(index++) === limitedKey
  }, 'the key to be used again after its Retry-After', 5000)
  t.pass('used again after the window')
})

t.test('items 2 and 3: 50 identical requests through the balancer are paid for once; hits from every instance', async (t) => {
  const question = { model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'the fleet question' }] }
  mock.script({ fault: 'delay', ms: 300 }, { content: 'The fleet answer.' })
  const before = mock.chatRequests().length
  const results = await Promise.all(Array.from({ length: 50 }, () => chat(question)))
  const calls = mock.chatRequests().length - before
  t.ok(results.every((r) => r.status === 200 && r.json.choices[0].message.content === 'The fleet answer.'), 'all 50 answered alike')
  t.ok(calls <= 3, `${calls} upstream call(s) for 50 identical requests over 3 instances`)
  t.comment(`upstream calls for 50 identical concurrent requests through nginx: ${calls}`)
  // Hit latency, measured through the balancer (reported, never asserted).
  const latencies: number[] = []
  for (let i = 0; i < 30; i++) {
    const started = performance.now()
    const res = await chat(question)
    latencies.push(performance.now() - started)
    t.equal(res.headers.get('x-tiergate-cache'), 'hit')
  }
  latencies.sort((a, b) => a - b)
  t.equal(mock.chatRequests().length - before, calls, 'hits make no upstream call')
  t.comment(`cache hit through nginx: median ${latencies[15].toFixed(1)} ms, p90 ${latencies[27].toFixed(1)} ms (30 hits)`)
})

t.test('item 4: a conversation through the balancer stays on one key', async (t) => {
  const messages: Array<{ role: string; content: string }> = [{ role: 'system', content: 'stay warm' }]
  const before = mock.chatRequests().length
  const instances = await served()
  for (let i = 0; i < 6; i++) {
    messages.push({ role: 'user', content: `warm turn ${i}` })
    const res = await chat({ model: 'gpt-4o-mini', messages })
    t.equal(res.status, 200)
    messages.push({ role: 'assistant', content: res.json.choices[0].message.content })
  }
  const keys = Array.from({ length: 6 }, (_, i) => keyUsed(before + i))
  t.equal(new Set(keys).size, 1, `six turns on key ${keys[0]}`)
  t.ok((await served()).filter((n, i) => n > instances[i]).length >= 2, 'over more than one instance')
})

t.test('item 7: behind the balancer rate limits key on the client address (X-Forwarded-For from nginx)', async (t) => {
  // Two clients on two loopback addresses (node:http binds the local address; fetch cannot).
  const remaining = (localAddress: string, forged?: string) => new Promise<number>((resolve, reject) => {
    const req = http.request(`${nginx.url}/v1/models`, { localAddress, headers: forged ? { 'x-forwarded-for': forged } : {} }, (res) => {
      res.resume()
      res.on('end', () => resolve(Number(res.headers['x-ratelimit-remaining'])))
    })
    req.on('error', reject)
    req.end()
  })
  const first = '127.0.0.2'
  const second = '127.0.0.3'
  const a1 = await remaining(first)
  const a2 = await remaining(first, '203.0.113.50') // nginx overwrites a forged header
  const a3 = await remaining(first)
  t.same([a1 - a2, a2 - a3], [1, 1], 'one budget for 127.0.0.2 over every instance, forged header or not')
  const b1 = await remaining(second)
  t.ok(b1 > a3, `127.0.0.3 has its own budget (${b1} left vs ${a3})`)
})

t.test('Redis killed mid-traffic through the balancer: no request lost; back: shared again', async (t) => {
  let stop = false
  const statuses: number[] = []
  const clients = [0, 1, 2].map(async (c) => {
    for (let i = 0; !stop; i++) {
      statuses.push((await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `traffic ${c} ${i}` }] })).status)
      await pause(5)
    }
  })
  await waitFor(() => statuses.length >= 30, 'traffic')
  await redis.close()
  const killedAt = statuses.length
  await waitFor(() => statuses.length >= killedAt + 60, 'traffic without Redis', 15_000)
  const back = await startRedisServer({ port: redis.port })
  t.teardown(() => back.close())
  await waitFor(() => gws.every((gw) => gw.app.stateSync?.connected() === true), 'every instance back on Redis', 15_000)
  stop = true
  await Promise.all(clients)
  t.same(statuses.filter((s) => s !== 200), [], `all ${statuses.length} requests answered 200 (${statuses.length - killedAt} after Redis was killed)`)
  // Sharing resumed: a new cooldown on one instance reaches the others.
  gws[0].app.providers.get('upstream')!.keys.rateLimited(KEY_ALPHA, 'gpt-4o-mini', 30_000)
  await waitFor(() => gws.every(alphaCooling), 'a cooldown to reach every instance again')
  t.pass('sharing resumed')
})
