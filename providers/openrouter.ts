// OpenRouter: OpenAI-compatible, plus attribution headers. Its streams carry
// `: OPENROUTER PROCESSING` comments (skipped by the SSE reader) and `reasoning` deltas.
import { OpenAICompatibleProvider, bearer } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'
import { Type } from '@sinclair/typebox'
import { declareProvider, OptStr, Str } from './settings.ts'

export const settings = declareProvider({
  name: 'openrouter',
  tier: 2,
  baseUrl: 'https://openrouter.ai/api/v1',
  env: Type.Object({ OPENROUTER_SITE_URL: OptStr(), OPENROUTER_APP_NAME: Str('tiergate') }),
  options: (env) => ({ siteUrl: env.OPENROUTER_SITE_URL, appName: env.OPENROUTER_APP_NAME }),
})


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
