// The most common fixture: a gateway over two OpenAI-compatible mock upstreams, `first` at
// tier 1 and `second` at tier 2, both torn down with the test.
import type { Test } from 'tap'
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.ts'
import { startGateway, type Gateway } from './gateway.ts'

export interface TwoTiers {
  gw: Gateway
  tier1: OpenAIMock
  tier2: OpenAIMock
}

export async function startTwoTiers(t: Test, options: {
  env?: Record<string, string>
  tier1Models?: string[]
  tier2Models?: string[]
  /** What tier 2 answers by default (tier 1 answers "Hello from mock"). */
  tier2Answer?: string
  /** The SDK client's key (for gateways with GATEWAY_API_KEYS). */
  apiKey?: string
} = {}): Promise<TwoTiers> {
  const tier1 = await startOpenAIMock({ models: options.tier1Models ?? ['gpt-4o-mini'] })
  const tier2 = await startOpenAIMock({ models: options.tier2Models ?? ['gpt-4o-mini'] })
  tier2.fallback = { content: options.tier2Answer ?? 'Hello from tier two' }
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'first,second',
    FIRST_BASE_URL: tier1.baseUrl, PROVIDER_PRIORITY_FIRST: '1',
    SECOND_BASE_URL: tier2.baseUrl, PROVIDER_PRIORITY_SECOND: '2',
    ...options.env,
  }, { apiKey: options.apiKey })
  t.teardown(async () => {
    await gw.close()
    await tier1.close()
    await tier2.close()
  })
  return { gw, tier1, tier2 }
}
