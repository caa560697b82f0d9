// The session store contract shared by the memory and Redis stores, and the trimming rule
// both apply when a conversation grows past SESSION_MAX_MESSAGES.
import type { ChatMessage } from '../../providers/contract.ts'

export interface Session {
  /** The gateway key id that created it ('' when gateway keys are off). */
  owner: string
  messages: ChatMessage[]
}

export interface SessionLimits {
  ttlMs: number
  maxMessages: number
  maxCount: number
}

export interface SessionStore {
  readonly kind: 'memory' | 'redis'
  /** The session whoever owns it (callers compare `owner`); undefined when unknown or expired. */
  get(id: string): Promise<Session | undefined>
  /**
   * Appends atomically (creating the session), trims to the message limit and restarts the
   * TTL. Returns false, changing nothing, when another owner holds the id.
   */
  append(id: string, owner: string, messages: ChatMessage[]): Promise<boolean>
  /** Forgets the session if this owner holds it; false when there was nothing of theirs to forget. */
  delete(id: string, owner: string): Promise<boolean>
}

/** System and developer messages are instructions: trimming never drops them. */
export function isInstruction(message: Pick<ChatMessage, 'role'>): boolean {
  return message.role === 'system' || message.role === 'developer'
}

/**
 * Keeps at most `max` messages by dropping the oldest non-instruction messages first. A tool
 * result whose assistant `tool_calls` message was dropped would be rejected by every upstream,
 * so such orphans go too. (plugins/sessions/redis.ts applies the same rule in Lua.)
 */
export function trimHistory(messages: ChatMessage[], max: number): ChatMessage[] {
  let excess = messages.length - max
  if (excess <= 0) return messages
  const kept: ChatMessage[] = []
  let turnKept = false
  for (const message of messages) {
    if (isInstruction(message)) kept.push(message)
    else if (excess > 0) excess--
    else if (!turnKept && message.role === 'tool') continue // orphaned tool result
    else {
      turnKept = true
      kept.push(message)
    }
  }
  return kept
}
