// Stored responses in Redis: any instance continues any chain. One hash per response
// (`owner`, `body`) with a PEXPIRE of RESPONSES_TTL_MS; put and delete are Lua scripts, so the
// owner check and the write are one atomic step. The client belongs to plugins/redis.ts.
import type { Redis } from 'ioredis'
import type { ResponsesLimits, ResponsesStore, StoredResponse } from './store.ts'

const KEY_PREFIX = 'tiergate:response:'

const PUT_LUA = `
local holder = redis.call('HGET', KEYS[1], 'owner')
if holder and holder ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'body', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`

const DELETE_LUA = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`

interface ResponseCommands {
  tiergateResponsePut(key: string, owner: string, body: string, ttlMs: number): Promise<number>
  tiergateResponseDelete(key: string, owner: string): Promise<number>
}

const keyOf = (id: string) => `${KEY_PREFIX}${id}`

export class RedisResponsesStore implements ResponsesStore {
  readonly kind = 'redis' as const
  readonly #redis: Redis & ResponseCommands
  readonly #limits: ResponsesLimits

  constructor(redis: Redis, limits: ResponsesLimits) {
    redis.defineCommand('tiergateResponsePut', { numberOfKeys: 1, lua: PUT_LUA })
    redis.defineCommand('tiergateResponseDelete', { numberOfKeys: 1, lua: DELETE_LUA })
    this.#redis = redis as Redis & ResponseCommands
    this.#limits = limits
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    const body = await this.#redis.hget(keyOf(id), 'body')
    return body === null ? undefined : (JSON.parse(body) as StoredResponse)
  }

  async put(stored: StoredResponse): Promise<boolean> {
    const json = JSON.stringify(stored)
    // As in memory: one response larger than RESPONSES_MAX_BYTES is not kept (a chain grows
    // with every turn, and Redis has no byte bound of its own here).
    if (Buffer.byteLength(json) > this.#limits.maxBytes) return false
    return (await this.#redis.tiergateResponsePut(keyOf(stored.id), stored.owner, json, this.#limits.ttlMs)) === 1
  }

  async delete(id: string, owner: string): Promise<boolean> {
    return (await this.#redis.tiergateResponseDelete(keyOf(id), owner)) === 1
  }
}
