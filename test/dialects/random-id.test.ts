// Minted ids come from a pooled random source (dialects/random-id.ts): their forms, and that no
// two are alike across many refills of the pool.
import t from 'tap'
import { randomText } from '../../dialects/random-id.ts'
import { newId } from '../../dialects/openai-responses/ids.ts'
import { messageId, toolUseId } from '../../dialects/anthropic-messages/ids.ts'

t.test('forms', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['randomText(24, hex)', randomText(24, 'hex'), /^[0-9a-f]{48}$/],
    ['randomText(12, base64url)', randomText(12, 'base64url'), /^[A-Za-z0-9_-]{16}$/],
    ['Responses id', newId('resp'), /^resp_[0-9a-f]{48}$/],
    ['Responses function call id', newId('fc'), /^fc_[0-9a-f]{48}$/],
    ['Anthropic message id, none upstream', messageId(undefined), /^msg_[A-Za-z0-9_-]{16}$/],
    ['Anthropic tool use id, none upstream', toolUseId(undefined), /^toolu_[A-Za-z0-9_-]{16}$/],
  ]
  for (const [name, id, form] of cases) t.match(id, form, name)
})

t.test('20,000 ids across ~120 refills of the pool: all distinct', async (t) => {
  const ids = new Set<string>()
  for (let i = 0; i < 20_000; i++) ids.add(randomText(24, 'hex'))
  t.equal(ids.size, 20_000)
  const mixed = new Set<string>()
  for (let i = 0; i < 5_000; i++) mixed.add(i % 3 === 0 ? randomText(12, 'base64url') : randomText(24, 'hex'))
  t.equal(mixed.size, 5_000, 'sizes mixed: no byte handed out twice')
})
