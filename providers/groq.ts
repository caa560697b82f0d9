// Groq's OpenAI-compatible endpoint. Stream usage may come as `x_groq.usage` (normalised in openai-sse.ts).
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'
import { declareProvider } from './settings.ts'

export const settings = declareProvider({ name: 'groq', tier: 2, baseUrl: 'https://api.groq.com/openai/v1' })


export default providerPlugin('groq', (app, settings) =>
  new OpenAICompatibleProvider({ name: 'groq', settings, http: app.upstream, embeddings: false }))
