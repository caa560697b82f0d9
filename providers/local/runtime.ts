// The node-llama-cpp runtime behind provider `local`: imports the library only when a local
// model is configured (a production install may not have it: its CUDA/Vulkan binaries cost
// ~700 MB), downloads the model when LOCAL_MODEL_URL names one, reads the file's facts
// (embedding model? does its chat template know tools?), loads it once, and keeps one
// context sequence — with its LlamaChat — per concurrent request. close() frees it all.
//
// Generation runs on llama.cpp's own threads (the addon's async workers), not on the event
// loop; LOCAL_THREADS defaults to one less than the cores so that a core stays free for it
// (ggml's worker threads spin while they wait, and oversubscribing the cores made a tiny model
// ~500× slower on a 2-core machine).
import { availableParallelism } from 'node:os'
import { stat } from 'node:fs/promises'
import type { FastifyBaseLogger } from 'fastify'
import { redactThenCut } from '../../plugins/redact.ts'
import type { Llama, LlamaChat, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaGrammar, LlamaModel } from 'node-llama-cpp'
import type { LocalOptions } from './settings.ts'
import type { ModelFacts } from './translate.ts'

export type NodeLlamaCpp = typeof import('node-llama-cpp')

/** The version whose lockfile `npm ci` accepts on a fresh machine (3.22's is refused). */
export const NODE_LLAMA_CPP_INSTALL = 'npm install node-llama-cpp@3.21.1'
/** A download logs its progress at most this often. */
const DOWNLOAD_LOG_EVERY_MS = 2_000
/** lastError reaches /providers, the start summary and 503 messages: redacted (LOCAL_MODEL_URL may carry a token) and bounded. */
const LAST_ERROR_MAX_CHARS = 300
/** Encoder architectures: they embed text, they do not chat. */
const EMBEDDING_ARCHITECTURES = new Set(['bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 'jina-bert-v3', 'modern-bert', 'neo-bert', 't5encoder'])
/** llama.cpp's LLAMA_POOLING_TYPE_NONE / UNSPECIFIED. */
const NO_POOLING = new Set([undefined, -1, 0])

export class LocalModelUnavailable extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LocalModelUnavailable'
  }
}

/** Why the library could not be imported, in words that say what to do. */
export function libraryError(err: { code?: string; message?: string } | undefined): LocalModelUnavailable {
  if (err?.code === 'ERR_MODULE_NOT_FOUND') {
    return new LocalModelUnavailable(`the local provider needs node-llama-cpp, which this install does not have: run \`${NODE_LLAMA_CPP_INSTALL}\``)
  }
  return new LocalModelUnavailable(`node-llama-cpp failed to load: ${err?.message ?? String(err)}`)
}

let library: Promise<NodeLlamaCpp> | undefined
/** node-llama-cpp (imported on first use only), or an error that says how to install it. */
export function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  library ??= import('node-llama-cpp').catch((err: { code?: string; message?: string }) => {
    library = undefined
    throw libraryError(err)
  })
  return library
}

export interface Slot {
  sequence: LlamaContextSequence
  chat: LlamaChat
}

interface Loaded {
  llama: Llama
  model: LlamaModel
  context: LlamaContext | undefined
  embedding: LlamaEmbeddingContext | undefined
  free: Slot[]
}

export type RuntimeState = 'not_loaded' | 'downloading' | 'loading' | 'ready' | 'failed'

export class LocalRuntime {
  state: RuntimeState = 'not_loaded'
  lastError: string | undefined
  loadMs: number | undefined
  download: { downloadedBytes: number; totalBytes: number } | undefined
  private modelPath: string | undefined
  private facts_: ModelFacts | undefined
  private downloading: Promise<string> | undefined
  private loading: Promise<Loaded> | undefined
  private current: Loaded | undefined
  private closed = false
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>()
  private readonly options: LocalOptions
  private readonly log: FastifyBaseLogger

  constructor(options: LocalOptions, log: FastifyBaseLogger) {
    this.options = options
    this.log = log
    this.modelPath = options.modelPath
  }

  get path(): string | undefined {
    return this.modelPath
  }

  facts(): ModelFacts | undefined {
    return this.facts_
  }

  threads(): number {
    return this.options.threads || Math.max(1, availableParallelism() - 1)
  }

  /**
   * Discovery: the library is there, the file exists (or its download has started) and its
   * facts are read. Cheap (the GGUF header only); throws what is wrong, for the status page.
   */
  async inspect(): Promise<void> {
    const lib = await importNodeLlamaCpp()
    const path = this.modelPath ?? this.startDownload(lib)
    if (typeof path !== 'string') throw new LocalModelUnavailable(this.downloadMessage())
    if (this.facts_) return
    const info = await stat(path).catch(() => undefined)
    if (!info?.isFile()) throw new LocalModelUnavailable(`model file not found: ${path} (LOCAL_MODEL_PATH)`)
    const file = await lib.readGgufFileInfo(path, { readTensorInfo: false })
    const metadata = file.metadata as { general?: { architecture?: string }; tokenizer?: { chat_template?: string }; [arch: string]: unknown }
    const architecture = metadata.general?.architecture ?? ''
    const pooling = (metadata[architecture] as { pooling_type?: number } | undefined)?.pooling_type
    this.facts_ = {
      embeddingOnly: EMBEDDING_ARCHITECTURES.has(architecture) || !NO_POOLING.has(pooling),
      templateHasTools: /\btools\b/.test(metadata.tokenizer?.chat_template ?? ''),
    }
  }

  /** The model with a free slot source; loads it on first use (once, shared by concurrent callers). */
  load(): Promise<Loaded> {
    if (this.closed) return Promise.reject(new LocalModelUnavailable('the local provider is closing'))
    if (!this.modelPath) return Promise.reject(new LocalModelUnavailable(this.downloadMessage()))
    this.loading ??= this.loadModel(this.modelPath).catch((err) => {
      this.loading = undefined // the next request tries again (the file may be fixed meanwhile)
      this.state = 'failed'
      this.lastError = redactThenCut((err as Error).message, LAST_ERROR_MAX_CHARS)
      throw err
    })
    return this.loading
  }

  /** A free sequence; the caller holds a queue slot, so one is always free. */
  async takeSlot(): Promise<Slot> {
    const loaded = await this.load()
    const slot = loaded.free.pop()
    if (!slot) throw new LocalModelUnavailable('no free context sequence (queue and sequences disagree)')
    return slot
  }

  /** Before the queue slot is released: the next request finds the sequence free. */
  releaseSlot(slot: Slot): void {
    if (!this.closed) this.current?.free.push(slot)
  }

  async embeddingContext(): Promise<LlamaEmbeddingContext> {
    const loaded = await this.load()
    loaded.embedding ??= await loaded.model.createEmbeddingContext({ contextSize: this.options.contextTokens, threads: this.threads() })
    return loaded.embedding
  }

  /** A JSON grammar (`json_object`) or one for a JSON schema, cached by its text. */
  async grammar(schema: unknown | undefined): Promise<LlamaGrammar> {
    const { llama } = await this.load()
    const key = schema === undefined ? '' : JSON.stringify(schema)
    let grammar = this.grammars.get(key)
    if (!grammar) {
      grammar = schema === undefined ? llama.getGrammarFor('json') : llama.createGrammarForJsonSchema(schema as never)
      this.grammars.set(key, grammar)
      grammar.catch(() => this.grammars.delete(key))
    }
    return grammar
  }

  async tokenCount(text: string): Promise<number> {
    const { model } = await this.load()
    return model.tokenize(text).length
  }

  async close(): Promise<void> {
    this.closed = true
    const loading = this.loading
    this.loading = undefined
    this.current = undefined
    const loaded = await loading?.catch(() => undefined)
    // Disposing the Llama instance frees its models, contexts and sequences (RAM and VRAM).
    await loaded?.llama.dispose()
    this.state = 'not_loaded'
  }

  private async loadModel(path: string): Promise<Loaded> {
    this.state = 'loading'
    const started = performance.now()
    const lib = await importNodeLlamaCpp()
    await this.inspect()
    // build 'never': without a prebuilt binary that fits, fail now rather than compile llama.cpp for minutes.
    const llama = await lib.getLlama({ gpu: this.options.gpu, build: 'never', logLevel: lib.LlamaLogLevel.error })
    try {
      const model = await llama.loadModel({ modelPath: path })
      const loaded: Loaded = { llama, model, context: undefined, embedding: undefined, free: [] }
      if (!this.facts_?.embeddingOnly) {
        const context = await model.createContext({ contextSize: this.options.contextTokens, sequences: this.options.maxConcurrency, threads: this.threads() })
        loaded.context = context
        for (let i = 0; i < this.options.maxConcurrency; i++) {
          const sequence = context.getSequence()
          loaded.free.push({ sequence, chat: new lib.LlamaChat({ contextSequence: sequence }) })
        }
      }
      if (this.closed) throw new LocalModelUnavailable('the local provider is closing')
      this.loadMs = Math.round(performance.now() - started)
      this.state = 'ready'
      this.lastError = undefined
      this.current = loaded
      this.log.info({ provider: 'local', model: this.options.modelId, path, loadMs: this.loadMs, gpu: llama.gpu, threads: this.threads() }, 'local model loaded')
      return loaded
    } catch (err) {
      await llama.dispose().catch(() => undefined)
      throw err
    }
  }

  /** Starts the LOCAL_MODEL_URL download once; returns the path when it is already there. */
  private startDownload(lib: NodeLlamaCpp): string | undefined {
    if (this.modelPath) return this.modelPath
    if (!this.options.modelUrl) throw new LocalModelUnavailable('no model configured: set LOCAL_MODEL_PATH to a .gguf file')
    if (!this.downloading) {
      this.state = 'downloading'
      let lastLog = 0
      const url = this.options.modelUrl
      this.log.info({ provider: 'local', url, dir: this.options.modelsDir }, 'local model: resolving (downloads on first start)')
      this.downloading = lib.resolveModelFile(url, {
        directory: this.options.modelsDir,
        cli: false,
        onProgress: ({ totalSize, downloadedSize }) => {
          this.download = { downloadedBytes: downloadedSize, totalBytes: totalSize }
          const now = Date.now()
          if (now - lastLog < DOWNLOAD_LOG_EVERY_MS && downloadedSize < totalSize) return
          lastLog = now
          this.log.info({ provider: 'local', url, downloadedBytes: downloadedSize, totalBytes: totalSize }, `local model: downloading ${progressBar(downloadedSize, totalSize)}`)
        },
      })
      this.downloading.then((path) => {
        this.modelPath = path
        this.state = 'not_loaded'
        this.log.info({ provider: 'local', url, path }, 'local model: file ready')
        if (this.options.preload) void this.load().catch(() => undefined)
      }, (err: Error) => {
        this.downloading = undefined // the next discovery tries again
        this.state = 'failed'
        this.lastError = redactThenCut(`download of ${url} failed: ${err.message}`, LAST_ERROR_MAX_CHARS)
        this.log.warn({ provider: 'local', url, err: err.message }, 'local model: download failed')
      })
    }
    return undefined
  }

  private downloadMessage(): string {
    if (this.lastError && this.state === 'failed') return this.lastError
    const d = this.download
    return d ? `still downloading the model: ${progressBar(d.downloadedBytes, d.totalBytes)}` : 'still resolving the model download (LOCAL_MODEL_URL)'
  }
}

/** `[#####-----]  50 % of 1.2 GB`: readable in a log line. */
export function progressBar(done: number, total: number, width = 20): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0
  const filled = Math.round(fraction * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)} % of ${(total / 1e9).toFixed(2)} GB`
}
