// OpenAI itself: the reference dialect, Bearer auth. OPENAI_API_KEY enables it.
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'

export default providerPlugin('openai', (app, settings) =>
  new OpenAICompatibleProvider({ name: 'openai', settings, http: app.upstream }))
