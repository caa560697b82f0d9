// What a model answers to a request, given the reference answer it "knows": the whole answer
// to a fresh request, and the rest of it to a request that continues a partial answer (an
// assistant message last = a prefill; an assistant message then a user message = a continue
// instruction). A well-behaved continuation is derived from the request itself, so a gateway
// that sends the wrong partial text gets the wrong rest, and byte-identity checks mean something.
// Styles reproduce what real models do: continue, start over, or repeat the last words.

export interface ToolCallSpec {
  id: string
  name: string
  arguments: string
}

export interface Reference {
  text: string
  reasoning?: string
  toolCalls?: ToolCallSpec[]
  /** How the text is cut into streamed pieces: a word with the space before it (OpenAI's way), or after it. */
  pieces?: PieceStyle
}

export type PieceStyle = 'leading-space' | 'trailing-space'

export type ContinuationStyle = 'continue' | 'start-over' | 'repeat-last-words'

export interface Plan {
  /** How the request asked: a fresh answer, a prefill, or a continue instruction. */
  mode: 'fresh' | 'prefill' | 'instruction'
  reasoning: string
  text: string
  toolCalls: ToolCallSpec[]
  pieces?: PieceStyle
}

/** A message in either wire format: OpenAI (`content` string/parts) or Anthropic (string/blocks). */
interface AnyMessage {
  role: string
  content?: unknown
}

export function textOfContent(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.map((part: { type?: string; text?: string }) => (part?.type === 'text' ? part.text ?? '' : '')).join('')
}

/** The partial answer a request carries, and how it asks to go on from it. */
export function partialOf(messages: AnyMessage[]): { mode: Plan['mode']; partial: string } {
  const last = messages.at(-1)
  if (last?.role === 'assistant') return { mode: 'prefill', partial: textOfContent(last.content) }
  const previous = messages.at(-2)
  if (last?.role === 'user' && previous?.role === 'assistant' && /continue/i.test(textOfContent(last.content))) {
    return { mode: 'instruction', partial: textOfContent(previous.content) }
  }
  return { mode: 'fresh', partial: '' }
}

/** The last `words` words of `text` (with the space before them dropped). */
function lastWords(text: string, words: number): string {
  const pieces = text.trimEnd().match(/\S+\s*/g) ?? []
  return pieces.slice(-words).join('').trimEnd()
}

export function planAnswer(reference: Reference, messages: AnyMessage[], style: ContinuationStyle = 'continue'): Plan {
  const { mode, partial } = partialOf(messages)
  const full: Plan = { mode, reasoning: reference.reasoning ?? '', text: reference.text, toolCalls: reference.toolCalls ?? [], pieces: reference.pieces }
  if (mode === 'fresh' || style === 'start-over') return full
  // A continuation that does not continue this answer (a partial it never wrote) starts afresh.
  if (!reference.text.startsWith(partial)) return full
  const rest = reference.text.slice(partial.length)
  // Real models re-think nothing when continuing text: the reasoning was before the answer.
  const text = style === 'repeat-last-words' && partial.trim().length > 0 ? lastWords(partial, 3) + rest : rest
  return { mode, reasoning: '', text, toolCalls: full.toolCalls, pieces: reference.pieces }
}

/** Word-sized pieces as models stream them: each word with the whitespace in front of it (or after it). */
export function tokens(text: string, style: PieceStyle = 'leading-space'): string[] {
  return (style === 'leading-space' ? text.match(/\s*\S+|\s+$/g) : text.match(/^\s+|\S+\s*/g)) ?? []
}
