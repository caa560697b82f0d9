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

/** One kind of key: the conversation id's, then a message prefix's — hashed only when asked for. */
function keys(req: ChatRequest, partition: string | undefined, conversationId: string | undefined, usersFromEnd: 0 | 1): string[] {
  const scope = `${partition ?? 'anonymous'}:`
  const out: string[] = []
  if (conversationId) out.push(`${scope}c:${digest(conversationId)}`)
  const prefix = prefixThroughUser(req.messages ?? [], usersFromEnd)
  // The model is part of the conversation: a prompt cache is per model.
  if (prefix) out.push(`${scope}m:${digest(canonicalJson({ model: req.model, messages: prefix, native: req[NATIVE]?.body.system }))}`)
  return out
}

/**
 * The keys a lookup tries and the keys a record writes, each on its own: the router asks for
 * one before routing and the other after, and each costs a canonical JSON and a SHA-256 of the
 * messages — computing both every time doubled affinity's share of a request (issue 14).
 */
export const lookupKeys = (req: ChatRequest, partition: string | undefined, conversationId: string | undefined): string[] => keys(req, partition, conversationId, 1)
export const recordKeys = (req: ChatRequest, partition: string | undefined, conversationId: string | undefined): string[] => keys(req, partition, conversationId, 0)

export function affinityKeys(req: ChatRequest, partition: string | undefined, conversationId: string | undefined): AffinityKeys {
  return { lookup: lookupKeys(req, partition, conversationId), record: recordKeys(req, partition, conversationId) }
}
