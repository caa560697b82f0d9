// OpenAI itself: the reference dialect, Bearer auth. OPENAI_API_KEY enables it.
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'
import { declareProvider } from './settings.ts'

export const settings = declareProvider({ name: 'openai', tier: 1, baseUrl: 'https://api.openai.com/v1' })


export default providerPlugin('openai', (app, settings) =>
  new OpenAICompatibleProvider({ name: 'openai', settings, http: app.upstream }))
