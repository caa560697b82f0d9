// OpenRouter: OpenAI-compatible, plus attribution headers. Its streams carry
// `: OPENROUTER PROCESSING` comments (skipped by the SSE reader) and `reasoning` deltas.
import { OpenAICompatibleProvider, bearer } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'

export default providerPlugin('openrouter', (app, settings) => {
  const { siteUrl, appName } = app.config.openrouter
  const attribution: Record<string, string> = { 'x-title': appName }
  if (siteUrl) attribution['http-referer'] = siteUrl
  return new OpenAICompatibleProvider({
    name: 'openrouter',
    settings,
    http: app.upstream,
    headers: (apiKey) => ({ ...bearer(apiKey), ...attribution }),
  })
})
