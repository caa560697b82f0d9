// Registers provider `local` (an in-process GGUF model, providers/local/provider.ts) when
// LOCAL_MODEL_PATH, GPT4ALL_MODEL_PATH or LOCAL_MODEL_URL names a model; app.config.local
// holds its options (providers/local/settings.ts).
import { providerPlugin } from '../plugin.ts'
import { LocalProvider } from './provider.ts'

export default providerPlugin('local', (app) => new LocalProvider(app.config.local, app.log))
