// StreamScrubber's output pinned over random streams (issue 14: its per-chunk path was made
// cheaper, and it is security code, so "the same output" is checked, not argued). A seeded
// generator builds streams that hit every branch: keys whole, split at every point, their first
// characters alone, text ending like a key's start, several channels of one choice in turn,
// two choices, tool-call arguments, audio transcripts, finish chunks, chunks with and without
// their upstream text. Each stream's every output — which chunk object came back, its JSON, its
// upstream text, the tail released at the end, the occurrences counted — is digested, and the
// digests must equal those recorded from the implementation before the change
// (test/fixtures/scrub-characterization.json). To record them again after an intended change
// of behaviour: SCRUB_CHARACTERIZATION_RECORD=1 npx tap test/hardening/scrub-characterization.test.ts
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { SecretMatcher, StreamScrubber } from '../../plugins/scrub-content.ts'
import { RAW_JSON, type ChatChunk } from '../../providers/contract.ts'
import { seededRandom } from '../helpers/mutate.ts'

const FIXTURE = new URL('../fixtures/scrub-characterization.json', import.meta.url)
const STREAMS = 600
const SEED = 0x5eed14

const SECRETS = ['Xq7LmN2pR9sT4vW6yZ8aB1cD3eF5gH0j', 'sk-bench-0123456789abcdefghij', 'gw-content-key-1234567']

function streamOf(random: () => number): ChatChunk[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]
  const secret = () => pick(SECRETS)
  // Pieces of text: words, whole keys, a key's first 1–10 characters, its rest, characters keys start with.
  const piece = (): string => {
    const r = random()
    if (r < 0.3) return pick(['hello', ' world', 'keys', ' is', 'X', 's', 'g', 'sk', 'sk-', 'gw-', ' ', 'Xq7', 'ordinary text. '])
    if (r < 0.45) return secret()
    const key = secret()
    const cut = 1 + Math.floor(random() * Math.min(10, key.length - 1))
    return r < 0.75 ? key.slice(0, cut) : key.slice(cut)
  }
  const text = () => Array.from({ length: 1 + Math.floor(random() * 3) }, piece).join('')
  const length = 1 + Math.floor(random() * 12)
  const twoChoices = random() < 0.15
  const chunks: ChatChunk[] = []
  for (let i = 0; i < length; i++) {
    const choices: ChatChunk['choices'] = []
    for (const index of twoChoices ? [0, 1] : [0]) {
      const delta: Record<string, unknown> = {}
      if (i === 0 && random() < 0.5) delta.role = 'assistant'
      const r = random()
      if (r < 0.55) delta.content = text()
      else if (r < 0.7) delta.reasoning_content = text()
      else if (r < 0.76) delta.refusal = text()
      else if (r < 0.82) delta.audio = { transcript: text(), data: 'AAAA' }
      else if (r < 0.92) delta.tool_calls = [{ index: Math.floor(random() * 2), function: { arguments: text() } }]
      if (random() < 0.2) delta.content = random() < 0.5 ? null : ''
      if (random() < 0.3) delta.refusal = null
      const last = i === length - 1
      choices.push({ index, delta, finish_reason: last && random() < 0.7 ? 'stop' : null } as ChatChunk['choices'][number])
    }
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices } as ChatChunk
    if (random() < 0.1) (chunk as unknown as Record<string, unknown>).annotation = text()
    if (random() < 0.7) chunk[RAW_JSON] = JSON.stringify(chunk)
    chunks.push(chunk)
  }
  return chunks
}

/** Everything the scrubber hands out for one stream, digested. */
function digestOf(chunks: ChatChunk[]): string {
  const scrubber = new StreamScrubber(new SecretMatcher(SECRETS))
  const outputs = chunks.map((chunk) => {
    const out = scrubber.accept(chunk)
    return { same: out === chunk, json: JSON.stringify(out), raw: out[RAW_JSON] ?? null }
  })
  const rest = scrubber.finish()
  return createHash('sha256').update(JSON.stringify({ outputs, rest: rest === undefined ? null : JSON.stringify(rest), scrubbed: scrubber.scrubbed })).digest('hex').slice(0, 16)
}

t.test(`StreamScrubber: the same output as before for ${STREAMS} random streams`, async (t) => {
  const random = seededRandom(SEED)
  const streams = Array.from({ length: STREAMS }, () => streamOf(random))
  const digests = streams.map(digestOf)
  if (process.env.SCRUB_CHARACTERIZATION_RECORD === '1') {
    writeFileSync(FIXTURE, `${JSON.stringify({ seed: SEED, streams: STREAMS, digests }, null, 0)}\n`)
    t.pass('recorded')
    return
  }
  const recorded = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { seed: number; streams: number; digests: string[] }
  t.equal(recorded.seed, SEED)
  t.equal(recorded.digests.length, STREAMS)
  const differing = digests.flatMap((digest, i) => (digest === recorded.digests[i] ? [] : [i]))
  t.same(differing, [], 'every stream digests as it did')
  if (differing.length > 0) t.comment(`the first stream that differs (#${differing[0]}): ${JSON.stringify(streams[differing[0]])}`)
})

t.test('the random streams reach the branches they are meant to', async (t) => {
  // A generator that drifted into only trivial streams would pin nothing: count what it makes.
  const random = seededRandom(SEED)
  let changed = 0
  let same = 0
  let released = 0
  let scrubbed = 0
  for (let s = 0; s < STREAMS; s++) {
    const scrubber = new StreamScrubber(new SecretMatcher(SECRETS))
    for (const chunk of streamOf(random)) {
      if (scrubber.accept(chunk) === chunk) same++
      else changed++
    }
    if (scrubber.finish()) released++
    scrubbed += scrubber.scrubbed
  }
  t.ok(changed > 500, `chunks rewritten: ${changed}`)
  t.ok(same > 500, `chunks passed as they came: ${same}`)
  t.ok(released > 50, `streams whose held tail went out at the end: ${released}`)
  t.ok(scrubbed > 300, `occurrences masked: ${scrubbed}`)
})
