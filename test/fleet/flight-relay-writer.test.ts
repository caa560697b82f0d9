// The relay writer's round trips, against a recording stand-in for the Redis client (the
// behaviour on a real redis-server is flight-relay.test.ts's): what is ready in one turn of the
// event loop goes in one script call. A relayed miss cost 3.18× the plain stream when the head,
// the chunks and the end went as three calls, 1.87× as one (bench: the Redis path's cost is its
// commands).
import t from 'tap'
import type { Redis } from 'ioredis'
import { RelayWriter } from '../../plugins/cache/relay-writer.ts'
import type { ChatChunk } from '../../providers/contract.ts'
import type { OutageLog } from '../../plugins/state/redis-outage.ts'

/** The entries (type, data) of every append script call, in call order. */
function recordingRedis() {
  const appends: Array<Array<[string, string]>> = []
  const redis = {
    async eval(script: string, _keys: number, ..._args: Array<string | number>) {
      if (script.includes('XADD')) {
        const args = _args.slice(2 + 3).map(String) // keys (stream, lock), then stream ttl, token, lock ttl
        const entries: Array<[string, string]> = []
        for (let i = 0; i < args.length; i += 2) entries.push([args[i], args[i + 1]])
        appends.push(entries)
      }
      return 0
    },
  }
  return { redis: redis as unknown as Redis, appends }
}

const outage = { ok() {}, failed() {} } as unknown as OutageLog
const chunk = (content: string): ChatChunk => ({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })

function writer(redis: Redis, maxBytes = 1_000_000) {
  return new RelayWriter({ redis, streamKey: 's', lockKey: 'l', token: 'tok', lockMs: 5_000, maxBytes, outage, release: async () => {}, onHeartbeat: () => {}, onStopped: () => {} }, { provider: 'p', tier: 1, attempts: 1 })
}

t.test('a stream that arrived in one read: head, chunks and end in one call', async (t) => {
  const { redis, appends } = recordingRedis()
  const relay = writer(redis)
  for (let i = 0; i < 20; i++) relay.chunk(chunk(`t${i} `))
  await relay.end()
  t.equal(appends.length, 1, 'one script call')
  t.same(appends[0].map(([type]) => type), ['head', 'chunks', 'end'])
  t.equal(JSON.parse(appends[0][1][1]).length, 20, 'the 20 chunks in one entry')
})

t.test('chunks arriving while a call is out wait for it and go together in the next, in order', async (t) => {
  const { redis, appends } = recordingRedis()
  const relay = writer(redis)
  relay.chunk(chunk('a'))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  relay.chunk(chunk('b'))
  relay.chunk(chunk('c'))
  await relay.end()
  t.same(appends.map((call) => call.map(([type]) => type)), [['head', 'chunks'], ['chunks', 'end']])
  t.same(appends.flat().filter(([type]) => type === 'chunks').map(([, data]) => JSON.parse(data).map((c: ChatChunk) => c.choices[0].delta.content).join('')), ['a', 'bc'])
})

t.test('past CACHE_MAX_BYTES: what fits goes, then the cut marker, never the end', async (t) => {
  const { redis, appends } = recordingRedis()
  const relay = writer(redis, 300)
  relay.chunk(chunk('x'.repeat(400)))
  await relay.end()
  const types = appends.map((call) => call.map(([type]) => type))
  t.same(types, [['head'], ['cut']], `${JSON.stringify(types)}`)
})
