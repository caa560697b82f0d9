// Which stored pin a request may follow, and under which keys it records its own. Pure.
//
// A conversation is recognised by its id (session_id / previous_response_id, when the client
// sends one) or by its messages: turn n+1 repeats turn n's messages and adds the answer and a
// new user message, so turn n+1's messages *up to its previous user turn* are exactly turn n's
// messages up to its last user turn. Each turn records that prefix; the next turn looks it up.
// That prefix is also what the provider's prompt cache holds, which is the point.
import { createHash } from 'node:crypto'
import { NATIVE, type ChatMessage, type ChatRequest } from '../providers/contract.ts'
import { canonicalJson } from './cache/key.ts'

export interface AffinityKeys {
  /**
   * Tried in order: the conversation id, then the previous turn's prefix. Not this turn's own
   * prefix: a first turn is no conversation yet, and identical one-off requests must keep
   * spreading over the key pool.
   */
  lookup: string[]
  /** Where this turn's choice is kept. */
  record: string[]
}

const digest = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 32)

/** The messages up to and including the user message at `userIndex` (the n-th from the end). */
function prefixThroughUser(messages: ChatMessage[], fromEnd: number): ChatMessage[] | undefined {
  let seen = 0
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role !== 'user') continue
    if (seen === fromEnd) return messages.slice(0, i + 1)
    seen++
  }
  return undefined
}

export function affinityKeys(req: ChatRequest, partition: string | undefined, conversationId: string | undefined): AffinityKeys {
  const scope = `${partition ?? 'anonymous'}:`
  // The model is part of the conversation: a prompt cache is per model.
  const messageKey = (messages: ChatMessage[]) => `${scope}m:${digest(canonicalJson({ model: req.model, messages, native: req[NATIVE]?.body.system }))}`
  const lookup: string[] = []
  const record: string[] = []
  if (conversationId) {
    const id = `${scope}c:${digest(conversationId)}`
    lookup.push(id)
    record.push(id)
  }
  const previous = prefixThroughUser(req.messages ?? [], 1)
  const current = prefixThroughUser(req.messages ?? [], 0)
  if (previous) lookup.push(messageKey(previous))
  if (current) record.push(messageKey(current))
  return { lookup, record }
}
