// The response cache's store with REDIS_URL, without a network: which store serves after each
// Redis outcome (the pure table), and RedisWithMemoryFallback over a scripted Redis: it never
// throws, serves and fills a bounded memory while Redis fails, drops it when Redis answers,
// and a value that is not a cached answer is Redis answering (a miss), not an outage.
// test/fleet/cache-redis-outage.test.ts does the same with a real redis-server.
import t from 'tap'
import { afterRedis, keepInMemoryFirst, type CacheMode, type RedisOutcome } from '../../plugins/cache/fallback-mode.ts'
import { RedisWithMemoryFallback } from '../../plugins/cache/fallback-store.ts'
import { MemoryCacheStore, RedisCacheStore } from '../../plugins/cache/store.ts'

t.test('afterRedis: Redis serves while it answers, memory while it fails, memory is dropped on return', async (t) => {
  const table: Array<[CacheMode, RedisOutcome, CacheMode, boolean]> = [
    // mode now, Redis did, next mode, drop memory
    ['shared', 'answered', 'shared', false],
    ['shared', 'failed', 'local', false],
    ['local', 'failed', 'local', false],
    ['local', 'answered', 'shared', true],
  ]
  for (const [mode, outcome, next, dropMemory] of table) {
    t.same(afterRedis(mode, outcome), { mode: next, dropMemory }, `${mode} + redis ${outcome}`)
  }
  t.equal(keepInMemoryFirst('local'), true, 'local: an answer is in memory before its Redis write is tried')
  t.equal(keepInMemoryFirst('shared'), false, 'shared: memory is written only when Redis fails')
})

const answer = (content: string) => ({ provider: 'p', tier: 1, completion: { id: 'x', object: 'chat.completion' as const, created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant' as const, content }, finish_reason: 'stop' as const }] } })

/** A Redis that answers from a Map, or rejects every call while `down`. */
function scriptedRedis() {
  const values = new Map<string, string>()
  const redis = {
    down: false,
    values,
    async get(key: string) {
      if (redis.down) throw new Error('Connection is closed.')
      return values.get(key) ?? null
    },
    async set(key: string, value: string) {
      if (redis.down) throw new Error('Connection is closed.')
      values.set(key, value)
      return 'OK' as const
    },
  }
  return redis
}

function outageLog() {
  const events: string[] = []
  return { events, failed: (err: unknown) => events.push(`failed: ${(err as Error).message}`), ok: () => events.push('ok') }
}

function fixture(limits = { maxEntries: 100, maxBytes: 100_000 }) {
  const redis = scriptedRedis()
  const corrupt: string[] = []
  const outage = outageLog()
  const store = new RedisWithMemoryFallback(new RedisCacheStore(redis as never, limits, (key) => corrupt.push(key)), new MemoryCacheStore(limits), outage)
  return { redis, corrupt, outage, store }
}

t.test('Redis down: answers are kept and served from memory; Redis back: served from Redis, memory dropped', async (t) => {
  const { redis, outage, store } = fixture()
  await store.set('before', answer('in redis'), 60_000)
  redis.down = true
  t.equal(await store.get('before'), undefined, 'what only Redis holds is a miss during the outage (never throws)')
  t.equal(store.mode, 'local')
  t.ok((await store.set('during', answer('in memory'), 60_000)) > 0, 'kept')
  t.equal((await store.get('during'))?.completion.choices[0].message.content, 'in memory', 'a hit from memory')
  t.same(store.stats().local, { active: true, entries: 1, bytes: store.stats().local!.bytes })
  t.ok(store.stats().local!.bytes > 0)
  t.equal(redis.values.has('tiergate:cache:during'), false, 'nothing reached Redis')

  redis.down = false
  t.equal(await store.get('during'), undefined, 'Redis answers: its miss stands, the memory copy is not consulted')
  t.equal(store.mode, 'shared')
  t.same(store.stats().local, { active: false, entries: 0, bytes: 0 }, 'memory dropped, not copied back')
  t.equal(redis.values.has('tiergate:cache:during'), false, 'not copied back')
  t.equal((await store.get('before'))?.completion.choices[0].message.content, 'in redis')
  await store.set('after', answer('shared again'), 60_000)
  t.ok(redis.values.has('tiergate:cache:after'), 'new answers go to Redis again')
  t.same(store.stats().local, { active: false, entries: 0, bytes: 0 }, 'and not to memory')
  t.same(outage.events.map((e) => e.split(':')[0]), ['ok', 'failed', 'failed', 'failed', 'ok', 'ok', 'ok'], 'every outcome reaches the outage log (it logs only the changes)')
})

t.test('the memory copy is bounded by CACHE_MAX_ENTRIES / CACHE_MAX_BYTES, and its evictions are counted', async (t) => {
  const { redis, store } = fixture({ maxEntries: 2, maxBytes: 100_000 })
  redis.down = true
  for (const key of ['a', 'b', 'c']) await store.set(key, answer(key), 60_000)
  t.equal(store.stats().local!.entries, 2)
  t.equal(await store.get('a'), undefined, 'the least recently used went')
  t.equal(store.stats().evictions, 1)
  redis.down = false
  await store.get('a')
  t.equal(store.stats().evictions, 1, 'dropping the copy on return is not an eviction, and the counter never goes back')
})

t.test('a value under the prefix that is not a cached answer is a logged miss with Redis up, not an outage', async (t) => {
  const { redis, corrupt, outage, store } = fixture()
  redis.values.set('tiergate:cache:k', '{"completion":{"choi')
  t.equal(await store.get('k'), undefined)
  t.same(corrupt, ['k'], 'logged as not a cached answer')
  t.equal(store.mode, 'shared', 'Redis still serves')
  t.same(outage.events, ['ok'])
})

t.test('a write that Redis refuses while it still served (the outage starts with it) is kept in memory', async (t) => {
  const { redis, store } = fixture()
  redis.down = true
  t.ok((await store.set('k', answer('kept'), 60_000)) > 0)
  t.equal(store.mode, 'local')
  t.equal((await store.get('k'))?.completion.choices[0].message.content, 'kept', 'a hit during the outage')
})

t.test('while local, a write that Redis refuses is kept once, and one too large for memory is not kept', async (t) => {
  const { redis, store } = fixture({ maxEntries: 100, maxBytes: 400 })
  redis.down = true
  await store.get('warm-up') // the failure that makes the store local
  t.ok((await store.set('k', answer('k'), 60_000)) > 0)
  t.equal(store.stats().local!.entries, 1)
  t.equal(await store.set('big', answer('b'.repeat(1_000)), 60_000), 0, 'larger than CACHE_MAX_BYTES: not kept')
  t.equal(store.stats().local!.entries, 1)
})

t.test('while local, an answer is in memory before its Redis write settles (a hung Redis holds it up to the deadline)', async (t) => {
  const limits = { maxEntries: 100, maxBytes: 100_000 }
  let release: (() => void) | undefined
  const hung = {
    get: async () => { throw new Error('Command timed out') },
    set: () => new Promise<never>((_resolve, reject) => { release = () => reject(new Error('Command timed out')) }),
  }
  const store = new RedisWithMemoryFallback(new RedisCacheStore(hung as never, limits), new MemoryCacheStore(limits), outageLog())
  await store.get('k')
  const written = store.set('k', answer('kept'), 60_000)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal((await store.get('k'))?.completion.choices[0].message.content, 'kept', 'a hit while the write still waits on Redis')
  release!()
  t.ok((await written) > 0)
  t.equal(store.stats().local!.entries, 1, 'kept once')
})
