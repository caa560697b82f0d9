// Anthropic's configuration: the API version header and the max_tokens sent when the client
// gave none (Anthropic requires it).
import { Type } from '@sinclair/typebox'
import { declareProvider, Int, Str } from '../settings.ts'

export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096

export const settings = declareProvider({
  name: 'anthropic',
  tier: 1,
  baseUrl: 'https://api.anthropic.com',
  env: Type.Object({
    ANTHROPIC_VERSION: Str('2023-06-01'),
    ANTHROPIC_DEFAULT_MAX_TOKENS: Int(DEFAULT_ANTHROPIC_MAX_TOKENS, 1),
  }),
  options: (env) => ({ version: env.ANTHROPIC_VERSION, defaultMaxTokens: env.ANTHROPIC_DEFAULT_MAX_TOKENS }),
})
