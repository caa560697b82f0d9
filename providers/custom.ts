// Any number of extra OpenAI-compatible upstreams (vLLM, LM Studio, LocalAI, a company proxy):
// CUSTOM_PROVIDERS=a,b with A_BASE_URL, A_API_KEY, A_MODELS, PROVIDER_PRIORITY_A.
import fp from 'fastify-plugin'
import { OpenAICompatibleProvider } from './openai-compatible.ts'

export default fp(async function customProviders(app) {
  for (const name of app.config.customProviders) {
    const settings = app.config.providers[name]
    if (!settings.enabled) continue
    app.providers.register(new OpenAICompatibleProvider({ name, settings, http: app.upstream }), settings)
  }
}, { name: 'provider-custom', dependencies: ['registry', 'upstream'] })
