// How provider health is kept in Redis: keys, TTLs, merging, and what a message must look like.
import t from 'tap'
import { deadlineOf, laterWins, parseMessage, stateKey, ttlMs } from '../../plugins/state/redis-events.ts'
import type { HealthEvent } from '../../plugins/state/provider-state.ts'

const cooldown = (untilMs: number, model = 'gpt-4o-mini'): HealthEvent => ({ type: 'cooldown', provider: 'openai', model, key: 'a1b2c3…wxyz', untilMs, reason: 'rate_limited' })
const open = (untilMs?: number): HealthEvent => ({ type: 'breaker', provider: 'openai', model: 'gpt-4o', state: 'open', untilMs })
const closed: HealthEvent = { type: 'breaker', provider: 'openai', model: 'gpt-4o', state: 'closed' }

t.test('stateKey: one key per state, model names with colons cannot collide', async (t) => {
  t.equal(stateKey(cooldown(1)), 'tiergate:state:cooldown:openai:gpt-4o-mini:a1b2c3%E2%80%A6wxyz')
  t.equal(stateKey(open()), 'tiergate:state:breaker:openai:gpt-4o')
  t.equal(stateKey(open()), stateKey(closed), 'a close addresses the open state')
  t.not(stateKey(cooldown(1, 'llama3:8b')), stateKey({ ...cooldown(1, 'llama3'), key: '8b:a1b2c3…wxyz' } as HealthEvent))
})

t.test('ttlMs: the Redis TTL is the local deadline', async (t) => {
  const now = 1_000_000
  const cases: Array<[string, HealthEvent, number | undefined]> = [
    ['cooldown', cooldown(now + 5000), 5000],
    ['cooldown already over', cooldown(now - 10), 1],
    ['open breaker with its reset', open(now + 30_000), 30_000],
    ['open breaker without one: the configured reset', open(), 7000],
    ['closed: deleted', closed, undefined],
  ]
  for (const [what, e, expected] of cases) t.equal(ttlMs(e, now, 7000), expected, what)
})

t.test('laterWins: the later deadline wins, a close always applies', async (t) => {
  const cases: Array<[string, HealthEvent | undefined, HealthEvent, boolean]> = [
    ['nothing known', undefined, cooldown(5), true],
    ['later', cooldown(5), cooldown(9), true],
    ['shorter never shortens', cooldown(9), cooldown(5), false],
    ['same', cooldown(9), cooldown(9), false],
    ['close ends an open', open(9), closed, true],
    ['open after a close', closed, open(9), true],
  ]
  for (const [what, current, incoming, expected] of cases) t.equal(laterWins(current, incoming), expected, what)
  t.equal(deadlineOf(closed), undefined)
})

t.test('parseMessage accepts well-formed events only', async (t) => {
  t.same(parseMessage(JSON.stringify({ origin: 'x', event: cooldown(5) })), { origin: 'x', event: cooldown(5) })
  t.same(parseMessage(JSON.stringify({ origin: 'x', event: closed })), { origin: 'x', event: closed })
  const opened = { ...closed, state: 'open', untilMs: 1_700_000_000_000 }
  t.same(parseMessage(JSON.stringify({ origin: 'x', event: opened })), { origin: 'x', event: opened }, 'an open breaker with a numeric deadline')
  for (const bad of ['not json', '{}', JSON.stringify({ origin: 'x', event: { ...cooldown(5), reason: 'other' } }), JSON.stringify({ origin: 1, event: closed }), JSON.stringify({ origin: 'x', event: { ...closed, state: 'half_open' } }), JSON.stringify({ origin: 'x', event: { ...closed, state: 'open', untilMs: 'soon' } })]) {
    t.equal(parseMessage(bad), undefined, bad)
  }
})
