// Provider `local`: a GGUF model run inside the gateway with node-llama-cpp (seed 002's
// "GPT4All with a configurable model path"). Its catalog is the one configured model, listed
// before anything is loaded; discovery checks the library and the file (or starts the
// download); the model loads on the first request, or at start with LOCAL_PRELOAD.
// What it cannot do (images, n > 1, tools without a template that knows them, forced tool
// choice) is declined in cannotServe, so the router tries the next provider; so is a full
// queue ("busy"), as a fault that never counts against the breaker.
import type { FastifyBaseLogger } from 'fastify'
import type { CallContext, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResponse, Provider } from '../contract.ts'
import { UpstreamError } from '../upstream-error.ts'
import type { LocalOptions } from './settings.ts'
import { BusyError, SlotQueue } from './queue.ts'
import { LocalModelUnavailable, LocalRuntime } from './runtime.ts'
import { localCannotServe, wantsGrammar } from './translate.ts'
import { completeChat, streamChat } from './generate.ts'

/** A busy local model is not an unhealthy one: retry soon, elsewhere meanwhile. */
const BUSY_RETRY_AFTER_MS = 1_000

export class LocalProvider implements Provider {
  readonly name = 'local'
  readonly runtime: LocalRuntime
  private readonly queue: SlotQueue
  private readonly options: LocalOptions

  constructor(options: LocalOptions, log: FastifyBaseLogger) {
    this.options = options
    this.runtime = new LocalRuntime(options, log)
    this.queue = new SlotQueue(options.maxConcurrency, options.queueMax)
  }

  /** One array for the provider's life (the Provider contract: the same array while the catalog is unchanged). */
  #catalog: string[] | undefined

  models(): string[] {
    return (this.#catalog ??= [this.options.modelId])
  }

  async refresh(): Promise<void> {
    await this.runtime.inspect()
    if (this.options.preload && this.runtime.state === 'not_loaded') void this.runtime.load().catch(() => undefined)
  }

  cannotServe(req: ChatRequest): string | undefined {
    return localCannotServe(req, this.runtime.facts())
  }

  async chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult> {
    const consumerGone = new AbortController()
    const signal = AbortSignal.any([ctx.signal, consumerGone.signal])
    const release = await this.acquire(signal)
    let handedOver = false
    try {
      const format = wantsGrammar(req)
      const grammar = format === undefined ? undefined : await this.runtime.grammar(format === 'json' ? undefined : schemaOf(req)).catch((err: Error) => {
        throw new UpstreamError('unsupported', `the local model cannot follow this JSON schema: ${err.message}`)
      })
      const slot = await this.runtime.takeSlot().catch(unavailable)
      const done = () => {
        this.runtime.releaseSlot(slot)
        release()
      }
      const generation = { slot, grammar, signal, done }
      handedOver = true
      if (req.stream) return streamChat(req, generation, consumerGone)
      return await completeChat(req, generation, consumerGone)
    } finally {
      if (!handedOver) release()
    }
  }

  async embed(req: EmbeddingRequest, ctx: CallContext): Promise<EmbeddingResponse> {
    if (this.runtime.facts() && !this.runtime.facts()!.embeddingOnly) {
      throw new UpstreamError('unsupported', 'the local model is a chat model; point LOCAL_MODEL_PATH at an embedding model (for example nomic-embed-text-v1.5) for /v1/embeddings')
    }
    const inputs = typeof req.input === 'string' ? [req.input] : req.input
    if (!inputs.every((item) => typeof item === 'string')) throw new UpstreamError('unsupported', 'the local model embeds text inputs only (not token arrays)')
    const release = await this.acquire(ctx.signal)
    try {
      const context = await this.runtime.embeddingContext().catch(unavailable)
      const data: EmbeddingResponse['data'] = []
      let tokens = 0
      for (const [index, text] of (inputs as string[]).entries()) {
        if (ctx.signal.aborted) throw ctx.signal.reason
        const embedding = await context.getEmbeddingFor(text)
        tokens += await this.runtime.tokenCount(text)
        data.push({ object: 'embedding', embedding: [...embedding.vector], index })
      }
      return { object: 'list', data, model: req.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }
    } finally {
      release()
    }
  }

  status(): Record<string, unknown> {
    return {
      model: this.options.modelId,
      path: this.runtime.path ?? null,
      state: this.runtime.state,
      loadMs: this.runtime.loadMs ?? null,
      download: this.runtime.download ?? null,
      lastError: this.runtime.lastError ?? null,
      queue: this.queue.state,
      threads: this.runtime.threads(),
    }
  }

  async close(): Promise<void> {
    this.queue.drain(new UpstreamError('local_resource', 'the local provider is closing'))
    await this.runtime.close()
  }

  private async acquire(signal: AbortSignal): Promise<() => void> {
    try {
      return await this.queue.acquire(signal)
    } catch (err) {
      if (err instanceof BusyError) throw new UpstreamError('local_resource', err.message, { retryAfterMs: BUSY_RETRY_AFTER_MS })
      throw err
    }
  }
}

function schemaOf(req: ChatRequest): unknown {
  const format = req.response_format?.json_schema as { schema?: unknown } | undefined
  return format?.schema ?? { type: 'object' }
}

/** Not there yet (downloading, closing) is no fault of the model; a file that fails to load is. */
function unavailable(err: unknown): never {
  if (err instanceof UpstreamError) throw err
  if (err instanceof LocalModelUnavailable) throw new UpstreamError('local_resource', err.message, { cause: err })
  throw new UpstreamError('server', `the local model failed to load: ${(err as Error).message}`, { cause: err })
}
