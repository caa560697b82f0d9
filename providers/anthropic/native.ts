// Native passthrough for Messages clients (dialects/anthropic-messages): the client's own body
// goes upstream as it is — `cache_control`, thinking signatures, `metadata`, server tools,
// fields tiergate has never heard of — with only the model replaced (the router resolved it)
// and `stream` matching what the router asked for. Pure.
import type { NativeRequest } from '../contract.ts'

type Loose = Record<string, any>

/**
 * A thinking block with an empty signature was made by tiergate from another provider's
 * reasoning (Anthropic signs its own): Anthropic would reject the request for it, so such
 * blocks are left out. Signed blocks, and everything else, are sent untouched.
 */
function withoutUnsignedThinking(messages: unknown): unknown {
  if (!Array.isArray(messages)) return messages
  let changed = false
  const out = messages.map((message: Loose) => {
    if (message?.role !== 'assistant' || !Array.isArray(message.content)) return message
    const content = message.content.filter((b: Loose) => !(b?.type === 'thinking' && !b.signature))
    if (content.length === message.content.length) return message
    changed = true
    return { ...message, content }
  })
  return changed ? out : messages
}

export function nativeMessagesBody(native: NativeRequest, model: string, stream: boolean): Loose {
  const body: Loose = { ...native.body, model }
  if (Boolean(body.stream) !== stream) body.stream = stream
  const messages = withoutUnsignedThinking(body.messages)
  if (messages !== body.messages) body.messages = messages
  return body
}

/** The count_tokens body: the client's, model replaced. */
export function nativeCountBody(body: Loose, model: string): Loose {
  return { ...body, model, messages: withoutUnsignedThinking(body.messages) }
}
