// Ids an Anthropic client expects: messages `msg_…`, tool uses with a non-empty id. An
// upstream's own id is kept inside (a tool_use id must come back unchanged as tool_use_id, so
// the translated tool_call_id matches what the upstream issued).
import { randomText } from '../random-id.ts'

const randomId = () => randomText(12, 'base64url')

export function messageId(id: unknown): string {
  if (typeof id !== 'string' || !id) return `msg_${randomId()}`
  return id.startsWith('msg_') ? id : `msg_${id}`
}

/** Some upstreams (Ollama) send tool calls without an id: one is made, as Anthropic always gives one. */
export function toolUseId(id: string | undefined): string {
  return id || `toolu_${randomId()}`
}
