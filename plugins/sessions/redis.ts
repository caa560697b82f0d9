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
// The rule is keptMessages' (store.ts), line for line: within SESSION_MAX_MESSAGES and
// SESSION_MAX_BYTES (bytes = each stored JSON string's length), never the turn (the last
// #ARGV-4 items), the tool call it answers or the newest instruction; other messages oldest
// first, then older instructions; then orphaned tool results.
const APPEND_LUA = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
local maxMessages = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
local turnLength = #ARGV - 4
for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
local n = #items
local count = n
local bytes = 0
for i = 1, n do bytes = bytes + #items[i] end
local function over() return count > maxMessages or bytes > maxBytes end
if over() then
  local roles, calls, kept, prot = {}, {}, {}, {}
  for i = 1, n do
    roles[i] = string.match(items[i], '^{"role":"(%a+)"') or ''
    calls[i] = roles[i] == 'assistant' and string.find(items[i], '"tool_calls":[{', 1, true) ~= nil
    kept[i] = true
    prot[i] = false
  end
  local function instruction(i) return roles[i] == 'system' or roles[i] == 'developer' end
  local first = math.max(1, n - turnLength + 1)
  for i = first, n do prot[i] = true end
  if roles[first] == 'tool' then
    for i = first - 1, 1, -1 do
      if roles[i] ~= 'tool' then
        if calls[i] then prot[i] = true end
        break
      end
    end
  end
  for i = n, 1, -1 do
    if instruction(i) then prot[i] = true; break end
  end
  for pass = 0, 1 do
    for i = 1, n do
      if not over() then break end
      if not prot[i] and instruction(i) == (pass == 1) then
        kept[i] = false
        count = count - 1
        bytes = bytes - #items[i]
      end
    end
  end
  local out = {}
  local previous = nil
  for i = 1, n do
    if kept[i] then
      if instruction(i) then table.insert(out, items[i])
      else
        local answersACall = previous ~= nil and (roles[previous] == 'tool' or calls[previous])
        if not (roles[i] == 'tool' and not answersACall and not prot[i]) then
          table.insert(out, items[i])
          previous = i
        end
      end
    end
  end
  redis.call('DEL', KEYS[2])
  for i = 1, #out, 500 do redis.call('RPUSH', KEYS[2], unpack(out, i, math.min(i + 499, #out))) end
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
  tiergateSessionAppend(ownerKey: string, messagesKey: string, owner: string, ttlMs: number, maxMessages: number, maxBytes: number, ...messages: string[]): Promise<number>
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
    const { ttlMs, maxMessages, maxBytes } = this.#limits
    return (await this.#redis.tiergateSessionAppend(ownerKey, messagesKey, owner, ttlMs, maxMessages, maxBytes, ...messages.map(serialize))) === 1
  }

  async delete(id: string, owner: string): Promise<boolean> {
    const [ownerKey, messagesKey] = keysOf(id)
    return (await this.#redis.tiergateSessionDelete(ownerKey, messagesKey, owner)) === 1
  }
}
