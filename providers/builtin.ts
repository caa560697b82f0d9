// The built-in providers' configuration declarations, in seed 001's tier order. config.ts
// collects these; app.ts registers the plugins. A new provider adds its module and one line here.
import { settings as openai } from './openai.ts'
import { settings as anthropic } from './anthropic/settings.ts'
import { settings as groq } from './groq.ts'
import { settings as openrouter } from './openrouter.ts'
import { settings as gemini } from './gemini.ts'
import { settings as mistral } from './mistral.ts'
import { settings as ollama } from './ollama/settings.ts'
import { settings as gpt4all } from './gpt4all.ts'
import { settings as local } from './local/settings.ts'
import { settings as pollinations } from './pollinations.ts'
import { settings as g4f } from './g4f.ts'

export const BUILTIN_DECLARATIONS = [
  openai,
  anthropic,
  groq,
  openrouter,
  gemini,
  mistral,
  ollama,
  gpt4all,
  local,
  pollinations,
  g4f,
] as const
