// Writes a tiny but real GGUF v3 chat model in plain JS, so that tests can load a model with
// node-llama-cpp without downloading weights. Llama architecture, all F32, ~0.5 MB:
//   vocabulary (262): <unk> <s> </s>, the 256 byte tokens <0x00>…<0xFF>, <|im_start|> <|im_end|>, ▁ (space)
//   dimension 64, 2 layers, 4 heads, feed-forward 128, a ChatML chat template.
// The weights are not random: the transformer blocks add nothing (their output projections are
// zero), so the last hidden state is the current token's embedding, and the output layer maps
// it to "the next letter": a→b, …, z→a, anything else (the prompt's last "\n") → a. It never
// produces an end token. So a reply is always "abcdefghijklmnopqrstuvwxyzabc…", and stop
// sequences, max_tokens and aborts can be asserted exactly.
import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export const TINY_MODEL = {
  dim: 64,
  layers: 2,
  heads: 4,
  feedForward: 128,
  contextLength: 2048,
  /** Logit of the predicted letter; every other token has 0 (so even temperature 1 is deterministic). */
  logit: 40,
} as const

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

/** The first n characters of what the tiny model answers to any prompt. */
export function tinyModelReply(n: number): string {
  let out = ''
  for (let i = 0; i < n; i++) out += String.fromCharCode(97 + (i % 26))
  return out
}

// GGUF value types (ggml/include/gguf.h).
const U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9
const GGML_F32 = 0
const ALIGNMENT = 32

const BYTE_TOKEN_BASE = 3
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const

class Writer {
  private readonly parts: Buffer[] = []
  length = 0
  private push(buf: Buffer) { this.parts.push(buf); this.length += buf.length }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b) }
  i32(v: number) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b) }
  u64(v: number) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b) }
  f32(v: number) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b) }
  bytes(buf: Buffer) { this.push(buf) }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b) }
  pad(to: number) { const rest = this.length % to; if (rest) this.push(Buffer.alloc(to - rest)) }
  result() { return Buffer.concat(this.parts) }
}

type Value =
  | { t: typeof U32 | typeof I32 | typeof F32 | typeof BOOL; v: number | boolean }
  | { t: typeof STRING; v: string }
  | { t: typeof ARRAY; of: typeof I32 | typeof F32 | typeof STRING; v: Array<number | string> }

function writeValue(w: Writer, value: Value) {
  switch (value.t) {
    case U32: return w.u32(value.v as number)
    case I32: return w.i32(value.v as number)
    case F32: return w.f32(value.v as number)
    case BOOL: return w.bytes(Buffer.from([value.v ? 1 : 0]))
    case STRING: return w.str(value.v)
    case ARRAY:
      w.u32(value.of)
      w.u64(value.v.length)
      for (const item of value.v) {
        if (value.of === STRING) w.str(item as string)
        else if (value.of === I32) w.i32(item as number)
        else w.f32(item as number)
      }
  }
}

function vocabulary() {
  const tokens = ['<unk>', '<s>', '</s>']
  const types: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control]
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)
    types.push(TOKEN_TYPE.byte)
  }
  for (const special of ['<|im_start|>', '<|im_end|>']) {
    tokens.push(special)
    types.push(TOKEN_TYPE.control)
  }
  // SentencePiece writes a space as U+2581; as a normal token it detokenizes back to a space.
  tokens.push('\u2581')
  types.push(TOKEN_TYPE.normal)
  return { tokens, types, scores: tokens.map(() => 0) }
}

interface Tensor { name: string; dims: number[]; data: Float32Array }

function tensors(vocabSize: number): Tensor[] {
  const { dim, layers, feedForward, logit } = TINY_MODEL
  const letter = (token: number) => {
    const byte = token - BYTE_TOKEN_BASE
    return byte >= 97 && byte <= 122 ? byte - 97 : -1
  }
  // Embeddings: letter i → basis vector i, every other token → basis vector 26.
  const embedding = new Float32Array(dim * vocabSize)
  for (let t = 0; t < vocabSize; t++) {
    const l = letter(t)
    embedding[t * dim + (l >= 0 ? l : 26)] = 1
  }
  // RMS norm turns a basis vector into 8 × itself (sqrt(dim)); the output row of letter j
  // reads the basis vector of its predecessor (and "a" also reads the "other" vector).
  const output = new Float32Array(dim * vocabSize)
  const scale = logit / Math.sqrt(dim)
  for (let t = 0; t < vocabSize; t++) {
    const j = letter(t)
    if (j < 0) continue
    output[t * dim + ((j + 25) % 26)] = scale
    if (j === 0) output[t * dim + 26] = scale
  }
  const ones = (n: number) => new Float32Array(n).fill(1)
  // Small deterministic values where a zero would be degenerate; zero where the block's output
  // must vanish (so that the residual stream carries the embedding unchanged).
  const filled = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.02)
  const list: Tensor[] = [
    { name: 'token_embd.weight', dims: [dim, vocabSize], data: embedding },
    { name: 'output_norm.weight', dims: [dim], data: ones(dim) },
    { name: 'output.weight', dims: [dim, vocabSize], data: output },
  ]
  for (let i = 0; i < layers; i++) {
    list.push(
      { name: `blk.${i}.attn_norm.weight`, dims: [dim], data: ones(dim) },
      { name: `blk.${i}.attn_q.weight`, dims: [dim, dim], data: filled(dim * dim, i + 1) },
      { name: `blk.${i}.attn_k.weight`, dims: [dim, dim], data: filled(dim * dim, i + 2) },
      { name: `blk.${i}.attn_v.weight`, dims: [dim, dim], data: filled(dim * dim, i + 3) },
      { name: `blk.${i}.attn_output.weight`, dims: [dim, dim], data: new Float32Array(dim * dim) },
      { name: `blk.${i}.ffn_norm.weight`, dims: [dim], data: ones(dim) },
      { name: `blk.${i}.ffn_gate.weight`, dims: [dim, feedForward], data: filled(dim * feedForward, i + 4) },
      { name: `blk.${i}.ffn_up.weight`, dims: [dim, feedForward], data: filled(dim * feedForward, i + 5) },
      { name: `blk.${i}.ffn_down.weight`, dims: [feedForward, dim], data: new Float32Array(dim * feedForward) },
    )
  }
  return list
}

export interface TinyOptions {
  /** Replaces the ChatML template (e.g. one that knows tools). */
  template?: string
  name?: string
  /** Declares a pooling type (1 = mean): an embedding model. */
  pooling?: number
}

/** The GGUF file's bytes. */
export function tinyGguf(options: TinyOptions = {}): Buffer {
  const { dim, layers, heads, feedForward, contextLength } = TINY_MODEL
  const vocab = vocabulary()
  const metadata: Array<[string, Value]> = [
    ['general.architecture', { t: STRING, v: 'llama' }],
    ['general.name', { t: STRING, v: options.name ?? 'tiergate-tiny' }],
    ['general.alignment', { t: U32, v: ALIGNMENT }],
    ['llama.context_length', { t: U32, v: contextLength }],
    ['llama.embedding_length', { t: U32, v: dim }],
    ['llama.block_count', { t: U32, v: layers }],
    ['llama.feed_forward_length', { t: U32, v: feedForward }],
    ['llama.attention.head_count', { t: U32, v: heads }],
    ['llama.attention.head_count_kv', { t: U32, v: heads }],
    ['llama.attention.layer_norm_rms_epsilon', { t: F32, v: 1e-5 }],
    ['llama.rope.dimension_count', { t: U32, v: dim / heads }],
    ['llama.vocab_size', { t: U32, v: vocab.tokens.length }],
    ['tokenizer.ggml.model', { t: STRING, v: 'llama' }],
    ['tokenizer.ggml.tokens', { t: ARRAY, of: STRING, v: vocab.tokens }],
    ['tokenizer.ggml.scores', { t: ARRAY, of: F32, v: vocab.scores }],
    ['tokenizer.ggml.token_type', { t: ARRAY, of: I32, v: vocab.types }],
    ['tokenizer.ggml.unknown_token_id', { t: U32, v: 0 }],
    ['tokenizer.ggml.bos_token_id', { t: U32, v: 1 }],
    ['tokenizer.ggml.eos_token_id', { t: U32, v: vocab.tokens.indexOf('<|im_end|>') }],
    ['tokenizer.ggml.add_bos_token', { t: BOOL, v: false }],
    ['tokenizer.ggml.add_space_prefix', { t: BOOL, v: false }],
    ['tokenizer.chat_template', { t: STRING, v: options.template ?? CHATML_TEMPLATE }],
  ]
  if (options.pooling !== undefined) metadata.push(['llama.pooling_type', { t: U32, v: options.pooling }])
  const list = tensors(vocab.tokens.length)

  const w = new Writer()
  w.bytes(Buffer.from('GGUF', 'latin1'))
  w.u32(3)
  w.u64(list.length)
  w.u64(metadata.length)
  for (const [key, value] of metadata) {
    w.str(key)
    w.u32(value.t)
    writeValue(w, value)
  }
  let offset = 0
  for (const tensor of list) {
    w.str(tensor.name)
    w.u32(tensor.dims.length)
    for (const d of tensor.dims) w.u64(d)
    w.u32(GGML_F32)
    w.u64(offset)
    offset += Math.ceil(tensor.data.byteLength / ALIGNMENT) * ALIGNMENT
  }
  w.pad(ALIGNMENT)
  for (const tensor of list) {
    w.bytes(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))
    w.pad(ALIGNMENT)
  }
  return w.result()
}

/** Writes the tiny model to `path` (creating its folder) and returns the path. */
export function writeTinyGguf(path: string, options: TinyOptions = {}): string {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, tinyGguf(options))
  return path
}
