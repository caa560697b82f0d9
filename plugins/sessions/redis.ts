// Redis session store: any gateway instance continues any session. Two keys per session
// sharing a hash tag (so they live in one cluster slot): `…:owner` (a string) and
// `…:messages` (a list of JSON messages). Append and delete are Lua scripts, so the owner
// check, the append, the trimming and the TTL (PEXPIRE) happen as one atomic step even when
// several instances write the same session at once. The client belongs to plugins/redis.ts.
import type { Redis } from 'ioredis'
import type { ChatMessage } from '../../providers/contract.ts'
import type { Session, SessionLimits, SessionStore } from './store.ts'

const KEY_PREFIX = 'tiergate:session:'

// Messages are stored with `role` as their first key, so the script can read it with a
// pattern instead of decoding JSON (cjson would rewrite the payload, e.g. [] into {}).
// The rule is trimHistory's (store.ts): drop the oldest non-instruction messages, then orphaned tool results.
const APPEND_LUA = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
for i = 4, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
local excess = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[3])
if excess > 0 then
  local kept = {}
  local turnKept = false
  for _, item in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    local role = string.match(item, '^{"role":"(%a+)"')
    if role == 'system' or role == 'developer' then table.insert(kept, item)
    elseif excess > 0 then excess = excess - 1
    elseif not turnKept and role == 'tool' then -- orphaned tool result: dropped
    else turnKept = true; table.insert(kept, item) end
  end
  redis.call('DEL', KEYS[2])
  for i = 1, #kept, 500 do redis.call('RPUSH', KEYS[2], unpack(kept, i, math.min(i + 499, #kept))) end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`

const DELETE_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`

interface SessionCommands {
  tiergateSessionAppend(ownerKey: string, messagesKey: string, owner: string, ttlMs: number, maxMessages: number, ...messages: string[]): Promise<number>
  tiergateSessionDelete(ownerKey: string, messagesKey: string, owner: string): Promise<number>
}

const keysOf = (id: string) => [`${KEY_PREFIX}{${id}}:owner`, `${KEY_PREFIX}{${id}}:messages`] as const

/** JSON with `role` first, for the append script's pattern. */
function serialize(message: ChatMessage): string {
  const { role, ...rest } = message
  return JSON.stringify({ role, ...rest })
}

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis' as const
  readonly #redis: Redis & SessionCommands
  readonly #limits: SessionLimits

  constructor(redis: Redis, limits: SessionLimits) {
    // defineCommand sends the script once and then calls it by its SHA.
    redis.defineCommand('tiergateSessionAppend', { numberOfKeys: 2, lua: APPEND_LUA })
    redis.defineCommand('tiergateSessionDelete', { numberOfKeys: 2, lua: DELETE_LUA })
    this.#redis = redis as Redis & SessionCommands
    this.#limits = limits
  }

  async get(id: string): Promise<Session | undefined> {
    const [ownerKey, messagesKey] = keysOf(id)
    const results = await this.#redis.multi().get(ownerKey).lrange(messagesKey, 0, -1).exec()
    if (!results) throw new Error('redis transaction aborted')
    for (const [err] of results) if (err) throw err
    const owner = results[0][1] as string | null
    if (owner === null) return undefined
    return { owner, messages: (results[1][1] as string[]).map((item) => JSON.parse(item) as ChatMessage) }
  }

  async append(id: string, owner: string, messages: ChatMessage[]): Promise<boolean> {
    const [ownerKey, messagesKey] = keysOf(id)
    const { ttlMs, maxMessages } = this.#limits
    return (await this.#redis.tiergateSessionAppend(ownerKey, messagesKey, owner, ttlMs, maxMessages, ...messages.map(serialize))) === 1
  }

  async delete(id: string, owner: string): Promise<boolean> {
    const [ownerKey, messagesKey] = keysOf(id)
    return (await this.#redis.tiergateSessionDelete(ownerKey, messagesKey, owner)) === 1
  }
}
