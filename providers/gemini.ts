// Google Gemini through its OpenAI-compatible endpoint (…/v1beta/openai), Bearer auth.
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'
import { declareProvider } from './settings.ts'

export const settings = declareProvider({ name: 'gemini', tier: 3, baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai' })


/** Gemini lists models as `models/gemini-2.5-flash`; clients ask for `gemini-2.5-flash`. */
function geminiModelIds(body: unknown): string[] {
  const data = (body as { data?: Array<{ id?: string }> }).data ?? []
  return data.map((m) => m.id).filter((id): id is string => typeof id === 'string').map((id) => id.replace(/^models\//, ''))
}

export default providerPlugin('gemini', (app, settings) =>
  new OpenAICompatibleProvider({ name: 'gemini', settings, http: app.upstream, parseModels: geminiModelIds }))
