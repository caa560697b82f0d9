// count_tokens when no Anthropic upstream answers it: an estimate with a real tokenizer,
// js-tiktoken's `o200k_base` (the GPT-4o/o-series encoding). Claude's own tokenizer is not
// public, so the figure is an estimate of the same order, never a fixed number: it grows with
// every text, tool definition, tool input and tool result in the request.
// What is counted is decided here (pure); the encoding itself runs off the event loop
// (plugins/tokenizer.ts), or in-thread with `encodeTexts` where no worker is wanted (tests).
import type { Tiktoken } from 'js-tiktoken/lite'
import type { AnthropicRequest } from './wire.ts'

/** Role and framing tokens per message (the OpenAI cookbook's figure for chat formats). */
export const MESSAGE_OVERHEAD_TOKENS = 3
/** Framing per tool definition. */
export const TOOL_OVERHEAD_TOKENS = 8
/** An image, whatever its size: Anthropic's figure for a ~1.15-megapixel image (width × height / 750). */
export const IMAGE_TOKENS_ESTIMATE = 1_600
/** The encoding used for estimates. */
export const ESTIMATE_ENCODING = 'o200k_base'
/** Texts are encoded in pieces of about this size, cut after whitespace (bounded work per step). */
export const ESTIMATE_SEGMENT_CHARS = 8 * 1024

type Loose = Record<string, any>

/** The text a tokenizer should see for one block, and the images it holds. */
function blockText(block: Loose, images: { count: number }): string {
  switch (block?.type) {
    case 'text': return String(block.text ?? '')
    case 'thinking': return String(block.thinking ?? '')
    case 'tool_use': return `${block.name ?? ''} ${JSON.stringify(block.input ?? {})}`
    case 'tool_result': {
      const content = block.content
      if (typeof content === 'string') return content
      return Array.isArray(content) ? content.map((b: Loose) => blockText(b, images)).join('\n') : ''
    }
    case 'image':
      images.count++
      return ''
    case 'document':
      return block.source?.type === 'text' ? String(block.source.data ?? '') : ''
    default:
      return ''
  }
}

/** Everything of a Messages request that becomes input tokens, as text, plus its image and framing count. */
export function countableParts(body: Pick<AnthropicRequest, 'system' | 'messages' | 'tools'>): { texts: string[]; fixedTokens: number } {
  const images = { count: 0 }
  const texts: string[] = []
  let fixedTokens = 0
  if (typeof body.system === 'string') texts.push(body.system)
  else if (Array.isArray(body.system)) texts.push(...body.system.map((b) => blockText(b, images)))
  for (const message of body.messages ?? []) {
    fixedTokens += MESSAGE_OVERHEAD_TOKENS
    if (typeof message.content === 'string') texts.push(message.content)
    else if (Array.isArray(message.content)) texts.push(...message.content.map((b) => blockText(b, images)))
  }
  for (const tool of body.tools ?? []) {
    fixedTokens += TOOL_OVERHEAD_TOKENS
    texts.push(JSON.stringify({ name: tool.name, description: tool.description, input_schema: tool.input_schema }))
  }
  return { texts: texts.filter(Boolean), fixedTokens: fixedTokens + images.count * IMAGE_TOKENS_ESTIMATE }
}

/** `text` in pieces of about `size`, each ending after a whitespace where there is one (changes a count by a token at most per cut). */
export function* segments(text: string, size = ESTIMATE_SEGMENT_CHARS): Generator<string> {
  let start = 0
  while (text.length - start > size) {
    let end = start + size
    const cut = Math.max(text.lastIndexOf(' ', end), text.lastIndexOf('\n', end))
    if (cut > start + size / 2) end = cut + 1
    yield text.slice(start, end)
    start = end
  }
  if (start < text.length) yield text.slice(start)
}

let encoder: Promise<Tiktoken> | undefined

/** The o200k_base encoder, built once (building it is about a second of CPU: the worker does it). */
export function loadEncoder(): Promise<Tiktoken> {
  encoder ??= (async () => {
    const [{ Tiktoken }, { default: ranks }] = await Promise.all([import('js-tiktoken/lite'), import('js-tiktoken/ranks/o200k_base')])
    return new Tiktoken(ranks)
  })()
  return encoder
}

/** Tokens in these texts. Special-token strings in user text count as the text they are, never rejected. */
export async function encodeTexts(texts: string[]): Promise<number> {
  const tokenizer = await loadEncoder()
  let tokens = 0
  for (const text of texts) for (const segment of segments(text)) tokens += tokenizer.encode(segment, [], []).length
  return tokens
}

export type TextCounter = (texts: string[]) => Promise<number>

/** The estimate for a Messages request; `count` encodes (the worker in the gateway). */
export async function estimateInputTokens(body: Pick<AnthropicRequest, 'system' | 'messages' | 'tools'>, count: TextCounter = encodeTexts): Promise<number> {
  const { texts, fixedTokens } = countableParts(body)
  return fixedTokens + (texts.length ? await count(texts) : 0)
}
