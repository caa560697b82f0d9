// The Provider contract and the internal request/response types. The internal format is
// OpenAI Chat Completions; every adapter translates to and from its upstream's wire format.
import type { FastifyBaseLogger } from 'fastify'

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool'

export interface TextPart { type: 'text'; text: string }
export interface ImagePart { type: 'image_url'; image_url: { url: string; detail?: string } }
export type ContentPart = TextPart | ImagePart | { type: string; [k: string]: unknown }

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export interface ChatMessage {
  role: Role
  content?: string | ContentPart[] | null
  name?: string
  tool_calls?: ToolCall[]
  tool_call_id?: string
  reasoning_content?: string
  [k: string]: unknown
}

export interface ToolDefinition {
  type: 'function'
  function: { name: string; description?: string; parameters?: Record<string, unknown> }
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } }

/** An OpenAI chat request as received; unknown fields pass through untouched. */
export interface ChatRequest {
  [NATIVE]?: NativeRequest
  model: string
  messages: ChatMessage[]
  stream?: boolean
  stream_options?: { include_usage?: boolean } | null
  temperature?: number
  top_p?: number
  max_tokens?: number
  max_completion_tokens?: number
  n?: number
  stop?: string | string[] | null
  seed?: number
  tools?: ToolDefinition[]
  tool_choice?: ToolChoice
  response_format?: { type: string; json_schema?: unknown }
  reasoning_effort?: string
  user?: string
  [k: string]: unknown
}

export interface Usage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  [k: string]: unknown
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | null

export interface ChatCompletion {
  [NATIVE_WIRE]?: NativeWire
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: Array<{
    index: number
    message: { role: 'assistant'; content: string | null; tool_calls?: ToolCall[]; reasoning_content?: string; refusal?: string | null; [k: string]: unknown }
    logprobs?: unknown
    finish_reason: FinishReason
  }>
  usage?: Usage
  system_fingerprint?: string | null
  [k: string]: unknown
}

export interface ChunkToolCall {
  index: number
  id?: string
  type?: 'function'
  function?: { name?: string; arguments?: string }
}

/**
 * An adapter may attach the upstream's own JSON text of a chunk under this key when it is
 * exactly the chunk's serialization, or (a translating adapter: providers/text-chunk.ts) the
 * chunk's serialization written from a template: the SSE writer then forwards it without
 * re-serializing, and the secret scrubber reads it in place of the chunk's fields. Never on a
 * chunk that carries NATIVE_WIRE, whose text is what goes out instead. Whoever changes a chunk
 * after that must delete the key.
 */
export const RAW_JSON: unique symbol = Symbol('tiergate.rawJson')

export interface ChatChunk {
  [RAW_JSON]?: string
  [NATIVE_WIRE]?: NativeWire
  [STREAM_NOTE]?: string
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: Array<{
    index: number
    delta: { role?: 'assistant'; content?: string | null; reasoning_content?: string; tool_calls?: ChunkToolCall[]; [k: string]: unknown }
    logprobs?: unknown
    finish_reason: FinishReason
  }>
  usage?: Usage | null
  [k: string]: unknown
}

export interface EmbeddingRequest {
  model: string
  input: string | string[] | number[] | number[][]
  encoding_format?: 'float' | 'base64'
  dimensions?: number
  user?: string
  [k: string]: unknown
}

export interface EmbeddingResponse {
  object: 'list'
  data: Array<{ object: 'embedding'; embedding: number[] | string; index: number }>
  model: string
  usage: { prompt_tokens: number; total_tokens: number }
}

/** What an adapter gets with each call: never a Fastify request or reply. */
export interface CallContext {
  /** Aborted when the client leaves, the attempt times out, or the gateway gives up on it. */
  signal: AbortSignal
  log: FastifyBaseLogger
  requestId: string
  /** The key chosen from the provider's pool for this attempt (undefined for keyless use). */
  apiKey: string | undefined
  /** This attempt's time limits (first byte is adaptive; see plugins/router/health.ts). */
  timeouts: AttemptTimeouts
}

export interface AttemptTimeouts {
  connectMs: number
  /** Stream: to the response headers and the first chunk. */
  firstByteMs: number
  /** Stream: longest silence between two chunks. */
  idleMs: number
  /** Whole attempt; also bounds non-stream requests, whose headers come with the whole answer. */
  totalMs: number
}

export type ChatResult = ChatCompletion | AsyncIterable<ChatChunk>

/**
 * Optional on a stream's iterator (issue 14): every chunk it already holds (one network read's
 * worth) in one step, instead of one `next()` apiece. Never an empty array: done instead. It may
 * be mixed with `next()` on the same iterator; plugins/router/batch.ts reads either kind.
 */
export interface BatchIterator<T = ChatChunk> extends AsyncIterator<T> {
  nextBatch(): Promise<IteratorResult<T[], undefined>>
}

/**
 * On a batch of chunks: the upstream's own bytes for exactly these chunks, each written
 * `data: <its RAW_JSON>\n\n`, in order (providers/openai-sse.ts sets it when a network read
 * held nothing else). An encoder that writes a RAW_JSON chunk as that very frame forwards the
 * bytes as they are. Whoever adds, drops, reorders or changes a chunk must pass on a new array.
 */
export const RAW_FRAMES: unique symbol = Symbol('tiergate.rawFrames')
export type ChunkBatch = ChatChunk[] & { [RAW_FRAMES]?: Uint8Array }

export interface Provider {
  readonly name: string
  /** Accepts any model name (`<NAME>_MODELS=*`, g4f by default). */
  readonly catchAll?: boolean
  /**
   * The current catalog (configured or discovered): the same array until the catalog changes,
   * and never changed in place — a new catalog is a new array (the router indexes each array
   * once: providers/catalog-index.ts).
   */
  models(): string[]
  /** Re-discover the catalog; must not throw for an unreachable upstream. */
  /**
   * Re-discover the catalog; must not throw for an unreachable upstream. `apiKey` is the key the
   * discovery took from the provider's pool (a revoked key #1 must not leave the catalog empty).
   */
  refresh?(signal: AbortSignal, apiKey?: string): Promise<void>
  /** `req.stream` decides: a completion, or an async iterable of chunks. */
  chat(req: ChatRequest, ctx: CallContext): Promise<ChatResult>
  /** Absent when the provider has no embeddings: the router skips it for them. */
  embed?(req: EmbeddingRequest, ctx: CallContext): Promise<EmbeddingResponse>
  /** A reason to skip this provider for this request (e.g. needs tools it cannot do). */
  cannotServe?(req: ChatRequest): string | undefined
  /** Extra fields for the status endpoint (e.g. Ollama's `live` score). */
  status?(): Record<string, unknown>
  /** Higher = healthier; used to order providers inside a tier (Ollama's `live`). */
  liveScore?(): number
  /**
   * Whether a resumed stream may be continued here by prefill (the delivered text as a final
   * assistant message): true (Anthropic), false (OpenAI), 'learn' (try; a 400 to a gateway-made
   * prefill turns it off for this provider). `<NAME>_PREFILL=on|off` overrides. Absent = false.
   */
  readonly acceptsPrefill?: boolean | 'learn'
  close?(): Promise<void>
}

export function isStream(result: ChatResult): result is AsyncIterable<ChatChunk> {
  return typeof (result as AsyncIterable<ChatChunk>)[Symbol.asyncIterator] === 'function'
}

/**
 * Native passthrough (inbound dialects). When a client speaks a dialect that a provider speaks
 * natively (Anthropic Messages → anthropic, OpenAI Responses → openai), the dialect route puts
 * the client's own body here; an adapter of that dialect sends it upstream as it is (model
 * replaced) instead of translating `messages`. Every other adapter ignores it. Whoever builds
 * a new request from a ChatRequest (a resume continuation, a cache key) must drop it.
 */
export const NATIVE: unique symbol = Symbol('tiergate.native')
export type NativeDialect = 'anthropic-messages' | 'openai-responses'
export interface NativeRequest {
  dialect: NativeDialect
  body: Record<string, unknown>
  /** Client headers worth forwarding to a native upstream (e.g. anthropic-version, anthropic-beta). */
  headers: Record<string, string>
}

/**
 * On a chunk (or completion) produced by a native passthrough: the upstream's own wire text
 * for it (a whole SSE event, `event: …\ndata: …\n\n`, or the JSON body). A dialect encoder of
 * the same dialect writes it as it is, so fields tiergate does not model survive byte for byte.
 * Whoever changes the chunk must delete the key (as with RAW_JSON).
 */
export const NATIVE_WIRE: unique symbol = Symbol('tiergate.nativeWire')
export interface NativeWire {
  dialect: NativeDialect
  /** SSE event text(s) for a chunk, or the JSON body text of a non-stream answer. */
  text: string
  /**
   * The events of `text`, parsed, when the provider's reader parsed them already: a dialect
   * encoder that must follow the native stream reads these instead of parsing the text again.
   */
  events?: readonly unknown[]
}

/**
 * A note the router attaches to a chunk (for example "resumed on groq via prefill"). Stream
 * encoders write it as an SSE comment line (`: note`) before the chunk — invisible to clients.
 */
export const STREAM_NOTE: unique symbol = Symbol('tiergate.streamNote')
