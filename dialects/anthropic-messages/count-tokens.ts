// count_tokens when no Anthropic upstream answers it: an estimate with a real tokenizer,
// js-tiktoken's `o200k_base` (the GPT-4o/o-series encoding). Claude's own tokenizer is not
// public, so the figure is an estimate of the same order, never a fixed number: it grows with
// every text, tool definition, tool input and tool result in the request.
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

let encoder: Promise<Tiktoken> | undefined

/** Loaded on first use: the ranks are a few MB, and most gateways never estimate. */
function loadEncoder(): Promise<Tiktoken> {
  encoder ??= (async () => {
    const [{ Tiktoken }, { default: ranks }] = await Promise.all([import('js-tiktoken/lite'), import('js-tiktoken/ranks/o200k_base')])
    return new Tiktoken(ranks)
  })()
  return encoder
}

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
  return { texts, fixedTokens: fixedTokens + images.count * IMAGE_TOKENS_ESTIMATE }
}

export async function estimateInputTokens(body: Pick<AnthropicRequest, 'system' | 'messages' | 'tools'>): Promise<number> {
  const tokenizer = await loadEncoder()
  const { texts, fixedTokens } = countableParts(body)
  // Special-token strings in user text are counted as the text they are, never rejected.
  const tokens = texts.reduce((sum, text) => sum + (text ? tokenizer.encode(text, [], []).length : 0), 0)
  return tokens + fixedTokens
}
