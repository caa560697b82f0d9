// Stored responses in Redis: any instance continues any chain. One hash per response
// (`owner`, `body`) with a PEXPIRE of RESPONSES_TTL_MS; delete is a Lua script, so the owner
// check and the delete are one atomic step. The client belongs to plugins/redis.ts.
import type { Redis } from 'ioredis'
import type { ResponsesLimits, ResponsesStore, StoredResponse } from './store.ts'

const KEY_PREFIX = 'tiergate:response:'

const DELETE_LUA = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`

interface ResponseCommands {
  tiergateResponseDelete(key: string, owner: string): Promise<number>
}

const keyOf = (id: string) => `${KEY_PREFIX}${id}`

export class RedisResponsesStore implements ResponsesStore {
  readonly kind = 'redis' as const
  readonly #redis: Redis & ResponseCommands
  readonly #limits: ResponsesLimits

  constructor(redis: Redis, limits: ResponsesLimits) {
    redis.defineCommand('tiergateResponseDelete', { numberOfKeys: 1, lua: DELETE_LUA })
    this.#redis = redis as Redis & ResponseCommands
    this.#limits = limits
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    const body = await this.#redis.hget(keyOf(id), 'body')
    return body === null ? undefined : (JSON.parse(body) as StoredResponse)
  }

  async put(stored: StoredResponse): Promise<void> {
    const key = keyOf(stored.id)
    const results = await this.#redis.multi().hset(key, 'owner', stored.owner, 'body', JSON.stringify(stored)).pexpire(key, this.#limits.ttlMs).exec()
    if (!results) throw new Error('redis transaction aborted')
    for (const [err] of results) if (err) throw err
  }

  async delete(id: string, owner: string): Promise<boolean> {
    return (await this.#redis.tiergateResponseDelete(keyOf(id), owner)) === 1
  }
}
