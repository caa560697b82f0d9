// One null entry in a discovered catalog skips that entry; it must not fail the whole discovery
// (a TypeError there left the provider with no models at all).
import t from 'tap'
import { openAIModelIds } from '../../providers/openai-compatible.ts'
import { ollamaTagNames } from '../../providers/ollama/catalog.ts'

t.test('OpenAI /models: null and non-object entries are skipped', async (t) => {
  t.same(openAIModelIds({ data: [null, { id: 'a' }, 5, { id: 7 }, { id: 'b' }] }), ['a', 'b'])
})

t.test('Ollama /api/tags: null entries are skipped', async (t) => {
  t.same(ollamaTagNames({ models: [null, { name: 'llama3.2:latest' }, { model: 'qwen' }] }), ['llama3.2:latest', 'qwen'])
})

t.test('G4F /v1/models: null entries are skipped', async (t) => {
  const { g4fModelIds } = await import('../../providers/g4f.ts')
  t.same(g4fModelIds({ data: [null, { id: 'gpt-4o' }, { id: 'Copilot', provider: true }] }), ['gpt-4o'])
})
