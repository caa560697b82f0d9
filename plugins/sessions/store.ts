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
  /** Bytes of stored JSON per session (SESSION_MAX_BYTES). */
  maxBytes: number
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

/** System and developer messages are instructions. */
export function isInstruction(message: { role: string }): boolean {
  return message.role === 'system' || message.role === 'developer'
}

/** What one stored message weighs against SESSION_MAX_BYTES: its JSON, as the stores hold it. */
export const messageBytes = (message: ChatMessage) => Buffer.byteLength(JSON.stringify(message))

/** What the trimming rule needs to know of a stored message (the Redis script reads the same from the JSON). */
export interface TrimItem {
  role: string
  bytes: number
  /** An assistant message that calls tools. */
  callsTools: boolean
}

export const trimItem = (message: ChatMessage, bytes = messageBytes(message)): TrimItem =>
  ({ role: message.role, bytes, callsTools: message.role === 'assistant' && Array.isArray(message.tool_calls) && message.tool_calls.length > 0 })

/**
 * The trimming rule (issue 9 item 14), shared by both stores (plugins/sessions/redis.ts has it
 * in Lua, line for line): which of `items` — the stored history with the turn just answered
 * at its end (`turnLength` messages) — a session keeps, within SESSION_MAX_MESSAGES and
 * SESSION_MAX_BYTES.
 *   - Never dropped: the turn; the assistant message whose tool calls the turn's tool results
 *     answer; the newest instruction (system/developer prompt). These may exceed the limits.
 *   - Dropped first, oldest first: other messages; then, if still over, older instructions.
 *   - A tool result whose tool call is gone goes too (every upstream rejects an orphan).
 * Linear in the number of messages: no turn costs more because the session is long.
 */
export function keptMessages(items: TrimItem[], turnLength: number, limits: Pick<SessionLimits, 'maxMessages' | 'maxBytes'>): boolean[] {
  const n = items.length
  const kept = new Array<boolean>(n).fill(true)
  let count = n
  let bytes = 0
  for (const item of items) bytes += item.bytes
  const over = () => count > limits.maxMessages || bytes > limits.maxBytes
  if (!over()) return kept

  const firstOfTurn = Math.max(0, n - turnLength)
  const protectedAt = new Array<boolean>(n).fill(false)
  for (let i = firstOfTurn; i < n; i++) protectedAt[i] = true
  if (items[firstOfTurn]?.role === 'tool') {
    for (let i = firstOfTurn - 1; i >= 0; i--) {
      if (items[i].role === 'tool') continue
      if (items[i].callsTools) protectedAt[i] = true
      break
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    if (isInstruction(items[i])) { protectedAt[i] = true; break }
  }

  for (const instructions of [false, true]) {
    for (let i = 0; i < n && over(); i++) {
      if (protectedAt[i] || isInstruction(items[i]) !== instructions) continue
      kept[i] = false
      count--
      bytes -= items[i].bytes
    }
  }

  // Orphaned tool results: a tool message must follow its call (or another result of it).
  let previous: TrimItem | undefined
  for (let i = 0; i < n; i++) {
    if (!kept[i] || isInstruction(items[i])) continue
    const answersACall = previous !== undefined && (previous.role === 'tool' || previous.callsTools)
    if (items[i].role === 'tool' && !answersACall && !protectedAt[i]) {
      kept[i] = false
      continue
    }
    previous = items[i]
  }
  return kept
}
