// Groq's OpenAI-compatible endpoint. Stream usage may come as `x_groq.usage` (normalised in openai-sse.ts).
import { OpenAICompatibleProvider } from './openai-compatible.ts'
import { providerPlugin } from './plugin.ts'

export default providerPlugin('groq', (app, settings) =>
  new OpenAICompatibleProvider({ name: 'groq', settings, http: app.upstream, embeddings: false }))
