// The stored-responses contract shared by the memory and Redis stores.
import type { Item, ResponseObject } from '../../dialects/openai-responses/types.ts'

export interface StoredResponse {
  id: string
  /** The gateway key id that created it ('' when gateway keys are off). */
  owner: string
  /** The id of the first response of its chain: the conversation id for provider affinity. */
  rootId: string
  /** The response as the client received it (GET /v1/responses/{id}). */
  response: ResponseObject
  /** This response's own input items (GET /v1/responses/{id}/input_items). */
  input: Item[]
  /**
   * The whole conversation up to and including this response, as replayable input items
   * (instructions excluded: as at OpenAI, they do not carry over to the next turn).
   */
  items: Item[]
}

export interface ResponsesLimits {
  ttlMs: number
  maxCount: number
  maxBytes: number
}

export interface ResponsesStore {
  readonly kind: 'memory' | 'redis'
  /** The stored response whoever owns it (callers compare `owner`); undefined when unknown or expired. */
  get(id: string): Promise<StoredResponse | undefined>
  /**
   * Stores it (restarting its TTL) unless another owner holds the id: then it changes nothing
   * and returns false (a replayed upstream id must never hand one key's response to another).
   */
  put(entry: StoredResponse): Promise<boolean>
  /** Forgets it if this owner holds it; false when there was nothing of theirs to forget. */
  delete(id: string, owner: string): Promise<boolean>
}
