// Mistral's API is OpenAI-shaped but calls the seed `random_seed` (Portkey's mistral adapter).
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'
import { declareProvider } from './settings.ts'

export const settings = declareProvider({ name: 'mistral', tier: 3, baseUrl: 'https://api.mistral.ai/v1' })

import type { ChatRequest } from './contract.ts'

export function toMistral(req: ChatRequest): ChatRequest {
  if (req.seed === undefined) return req
  const { seed, ...rest } = req
  return { ...rest, random_seed: seed }
}

export default providerPlugin('mistral', (app, settings) =>
  new OpenAICompatibleProvider({ name: 'mistral', settings, http: app.upstream, transformRequest: toMistral }))
