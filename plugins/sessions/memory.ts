// In-process session store: a Map kept in least-recently-used order (a Map iterates in
// insertion order, so re-inserting on use moves a session to the end), with a TTL per session.
// Expired sessions are dropped when touched; SESSION_MAX_COUNT bounds memory either way.
import type { ChatMessage } from '../../providers/contract.ts'
import { keptMessages, trimItem, type Session, type SessionLimits, type SessionStore, type TrimItem } from './store.ts'

interface Entry {
  owner: string
  /**
   * The messages as JSON, as the Redis store holds them: a read parses them, so a caller can
   * never change stored history through what it got — and parsing the joined texts is twice as
   * fast as `structuredClone` of the objects (3.9 against 7.6 µs for 20 messages), on every turn.
   */
  texts: string[]
  expiresAt: number
  /** Per message, what trimming needs (its JSON size is computed once, when it is stored). */
  items: TrimItem[]
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory' as const
  readonly #limits: SessionLimits
  readonly #entries = new Map<string, Entry>()

  constructor(limits: SessionLimits) {
    this.#limits = limits
  }

  /** The live entry, moved to the most-recently-used end; expired ones are forgotten. */
  #touch(id: string): Entry | undefined {
    const entry = this.#entries.get(id)
    if (!entry) return undefined
    this.#entries.delete(id)
    if (entry.expiresAt <= Date.now()) return undefined
    this.#entries.set(id, entry)
    return entry
  }

  async get(id: string): Promise<Session | undefined> {
    const entry = this.#touch(id)
    return entry && { owner: entry.owner, messages: JSON.parse(`[${entry.texts.join(',')}]`) as ChatMessage[] }
  }

  async append(id: string, owner: string, messages: ChatMessage[]): Promise<boolean> {
    const entry = this.#touch(id) ?? { owner, texts: [], items: [], expiresAt: 0 }
    if (entry.owner !== owner) return false
    const added = messages.map((message) => JSON.stringify(message))
    const texts = [...entry.texts, ...added]
    const items = [...entry.items, ...added.map((text, i) => trimItem(messages[i], Buffer.byteLength(text)))]
    const kept = keptMessages(items, added.length, this.#limits)
    entry.texts = texts.filter((_, i) => kept[i])
    entry.items = items.filter((_, i) => kept[i])
    entry.expiresAt = Date.now() + this.#limits.ttlMs
    this.#entries.set(id, entry)
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#limits.maxCount) break
      this.#entries.delete(oldest)
    }
    return true
  }

  async delete(id: string, owner: string): Promise<boolean> {
    const entry = this.#touch(id)
    if (!entry || entry.owner !== owner) return false
    this.#entries.delete(id)
    return true
  }
}
