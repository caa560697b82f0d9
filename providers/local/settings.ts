// The in-process local model's configuration (provider `local`): which GGUF file, or where to
// download one from, how many requests it runs at once and queues, and the runtime knobs.
// Enabled only when a model is named (a path or a URL): without one there is nothing to run.
import { Type } from '@sinclair/typebox'
import { basename } from 'node:path'
import { declareProvider, ConfigError, Int, OptStr, Str, type RawEnv } from '../settings.ts'

/** Requests generating at once (each gets its own context sequence). */
export const DEFAULT_LOCAL_MAX_CONCURRENCY = 1
/** Requests waiting for a sequence; one more is refused as "busy" so the router falls through. */
export const DEFAULT_LOCAL_QUEUE_MAX = 8
/** Tokens of context per sequence (prompt + answer); grammar output needs at least 1,024. */
export const DEFAULT_LOCAL_CONTEXT_TOKENS = 4096
export const MIN_LOCAL_CONTEXT_TOKENS = 1024
/** Where LOCAL_MODEL_URL downloads go. */
export const DEFAULT_LOCAL_MODELS_DIR = './models'

const env = Type.Object({
  LOCAL_MODEL_PATH: OptStr(),
  GPT4ALL_MODEL_PATH: OptStr(),
  LOCAL_MODEL_URL: OptStr(),
  LOCAL_MODELS_DIR: Str(DEFAULT_LOCAL_MODELS_DIR),
  LOCAL_MODEL_ID: OptStr(),
  LOCAL_PRELOAD: Type.Boolean({ default: false }),
  LOCAL_MAX_CONCURRENCY: Int(DEFAULT_LOCAL_MAX_CONCURRENCY, 1, 64),
  LOCAL_QUEUE_MAX: Int(DEFAULT_LOCAL_QUEUE_MAX, 0),
  LOCAL_CONTEXT_TOKENS: Int(DEFAULT_LOCAL_CONTEXT_TOKENS, MIN_LOCAL_CONTEXT_TOKENS),
  LOCAL_GPU: Type.Union([Type.Literal('auto'), Type.Literal('false')], { default: 'auto' }),
  LOCAL_THREADS: Int(0, 0, 256),
})

export interface LocalOptions {
  /** The GGUF file (LOCAL_MODEL_PATH, else GPT4ALL_MODEL_PATH); undefined when only a URL is given. */
  modelPath: string | undefined
  /** An https URL or `hf:user/repo[:quant]` reference downloaded into modelsDir on first start. */
  modelUrl: string | undefined
  modelsDir: string
  /** The model's name in /v1/models and requests. */
  modelId: string
  preload: boolean
  maxConcurrency: number
  queueMax: number
  contextTokens: number
  /** `false`: CPU only; `auto`: Metal/CUDA/Vulkan when the machine has one. */
  gpu: 'auto' | false
  /** 0 = one less than the CPU cores (at least 1), so generation leaves a core to the event loop. */
  threads: number
}

/** `/models/Qwen3-1.7B-Q8_0.gguf` → `Qwen3-1.7B-Q8_0`; `hf:unsloth/Qwen3-1.7B-GGUF:Q4_K_M` → `Qwen3-1.7B-GGUF-Q4_K_M`. */
export function modelIdFrom(pathOrUrl: string): string {
  let name = pathOrUrl
  if (name.startsWith('hf:')) name = name.slice(3).split('/').slice(1).join('/').replace(':', '-')
  else if (/^https?:\/\//.test(name)) name = new URL(name).pathname
  return basename(name).replace(/\.gguf$/i, '') || 'local-model'
}

function modelUrl(raw: RawEnv, value: string | undefined): string | undefined {
  if (!value) return undefined
  if (/^hf:[^/\s]+\/[^\s]+$/.test(value) || /^https?:\/\/\S+$/.test(value)) return value
  throw new ConfigError('LOCAL_MODEL_URL', `must be an http(s) URL of a .gguf file or an hf:user/repo[:quant] reference (got ${JSON.stringify(raw.LOCAL_MODEL_URL)})`)
}

export const settings = declareProvider({
  name: 'local',
  tier: 4,
  keyless: true,
  env,
  options: (env, raw): LocalOptions => {
    const modelPath = env.LOCAL_MODEL_PATH ?? env.GPT4ALL_MODEL_PATH
    const url = modelUrl(raw, env.LOCAL_MODEL_URL)
    const source = modelPath ?? url
    return {
      modelPath,
      modelUrl: modelPath ? undefined : url,
      modelsDir: env.LOCAL_MODELS_DIR,
      modelId: env.LOCAL_MODEL_ID ?? (source ? modelIdFrom(source) : 'local-model'),
      preload: env.LOCAL_PRELOAD,
      maxConcurrency: env.LOCAL_MAX_CONCURRENCY,
      queueMax: env.LOCAL_QUEUE_MAX,
      contextTokens: env.LOCAL_CONTEXT_TOKENS,
      gpu: env.LOCAL_GPU === 'false' ? false : 'auto',
      threads: env.LOCAL_THREADS,
    }
  },
  enabled: (options) => options.modelPath !== undefined || options.modelUrl !== undefined,
})
