// Registers the Ollama provider (dual mode: local native API, remote OpenAI-compatible backup).
// Keyless, enabled by default; where it looks comes from app.config.ollama (OLLAMA_HOST,
// OLLAMA_PORT, OLLAMA_BASE_URL, OLLAMA_REMOTE_BASE_URL, OLLAMA_MODEL_ALIASES).
import { providerPlugin } from '../plugin.ts'
import { OllamaProvider } from './provider.ts'

export default providerPlugin('ollama', (app, settings) => new OllamaProvider({
  settings,
  http: app.upstream,
  localBaseUrl: app.config.ollama.localBaseUrl,
  remoteBaseUrl: app.config.ollama.remoteBaseUrl,
  modelAliases: app.config.ollama.modelAliases,
}))
