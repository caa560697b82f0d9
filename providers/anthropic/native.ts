// Native passthrough for Messages clients (dialects/anthropic-messages): the client's own body
// goes upstream as it is — `cache_control`, thinking signatures, `metadata`, server tools,
// fields tiergate has never heard of — with only the model replaced (the router resolved it)
// and `stream` matching what the router asked for. Pure.
import type { ChatMessage, NativeRequest } from '../contract.ts'
import { textOfContent, toAnthropicMessages } from './translate.ts'
import { systemText } from '../../dialects/anthropic-messages/request.ts'
import type { AnthropicRequest } from '../../dialects/anthropic-messages/wire.ts'

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

/**
 * A session's turn, still native: the stored history (tiergate's own messages, translated as
 * for any Anthropic request) in front of the client's new messages, which go as the client sent
 * them — `cache_control`, signed thinking, every field. The client's `system` stays as it is too
 * (its blocks and their cache_control); earlier instructions the history holds that differ from
 * it go in front of it as one text block (a client repeating its system prompt every turn gets
 * it once). Pure; the history's own translation is the translated path's (translate.ts).
 */
export function nativeWithHistory(native: NativeRequest, history: ChatMessage[]): NativeRequest {
  if (history.length === 0) return native
  // As the decoder made it the session's system message, so a repeated prompt compares equal.
  const own = systemText(native.body.system as AnthropicRequest['system']) ?? ''
  const earlier = history.filter((m) => (m.role === 'system' || m.role === 'developer') && textOfContent(m.content) !== own)
  const translated = toAnthropicMessages([...earlier, ...history.filter((m) => m.role !== 'system' && m.role !== 'developer')])
  const body: Loose = { ...native.body, messages: [...translated.messages, ...(Array.isArray(native.body.messages) ? native.body.messages : [])] }
  if (translated.system) {
    const clientSystem = native.body.system
    if (clientSystem === undefined || clientSystem === null || clientSystem === '') body.system = translated.system
    else if (typeof clientSystem === 'string') body.system = `${translated.system}\n\n${clientSystem}`
    else body.system = [{ type: 'text', text: translated.system }, ...(clientSystem as unknown[])]
  }
  return { ...native, body }
}
