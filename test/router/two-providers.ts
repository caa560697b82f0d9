// The two-provider gateway the router tests share: `first` (tier 1) and `second` (tier 2),
// OpenAI mocks serving `models`, each answering with its own name; all three closed on teardown.
import type { Test } from 'tap'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

export interface TwoProviders { gw: Gateway; first: OpenAIMock; second: OpenAIMock }

export async function twoProviders(t: Test, models: string[], env: Record<string, string> = {}): Promise<TwoProviders> {
  const first = await startOpenAIMock({ models })
  const second = await startOpenAIMock({ models })
  first.fallback = { content: 'Hello from first' }
  second.fallback = { content: 'Hello from second' }
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'first,second', RATE_LIMIT_MAX: '0',
    FIRST_BASE_URL: first.baseUrl, FIRST_MODELS: models.join(','), PROVIDER_PRIORITY_FIRST: '1',
    SECOND_BASE_URL: second.baseUrl, SECOND_MODELS: models.join(','), PROVIDER_PRIORITY_SECOND: '2',
    ...env,
  })
  t.teardown(async () => {
    await gw.close()
    await first.close()
    await second.close()
  })
  return { gw, first, second }
}
