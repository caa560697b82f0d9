// A previous_response_id chain is one conversation for provider affinity: its turns stay on the
// provider that served the first one (its prompt cache is warm there), even when the messages
// alone would not tell (each turn brings new instructions), while that provider is healthy.
import t from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'

const MODEL = 'gpt-4o-mini'

t.test('the turns of a chain stay on one provider of a tier; unrelated requests still rotate', async (t) => {
  const a = await startOpenAIMock({ models: [MODEL] })
  const b = await startOpenAIMock({ models: [MODEL] })
  a.fallback = { content: 'from a' }
  b.fallback = { content: 'from b' }
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'a,b', A_BASE_URL: a.baseUrl, B_BASE_URL: b.baseUrl, PROVIDER_PRIORITY_A: '1', PROVIDER_PRIORITY_B: '1' })
  t.teardown(async () => { await gw.close(); await a.close(); await b.close() })

  const served: string[] = []
  let previous: string | undefined
  for (let turn = 0; turn < 6; turn++) {
    const res = await gw.client.responses.create({ model: MODEL, instructions: `Rules of turn ${turn}.`, input: `turn ${turn}`, previous_response_id: previous }).withResponse()
    served.push(res.response.headers.get('x-tiergate-provider')!)
    previous = res.data.id
  }
  t.equal(new Set(served).size, 1, `one provider for the whole chain: ${served.join(', ')}`)

  const unrelated = new Set<string>()
  for (let i = 0; i < 6; i++) {
    const res = await gw.client.responses.create({ model: MODEL, input: `fresh ${i}` }).withResponse()
    unrelated.add(res.response.headers.get('x-tiergate-provider')!)
  }
  t.equal(unrelated.size, 2, 'requests outside a chain share the tier')
})
