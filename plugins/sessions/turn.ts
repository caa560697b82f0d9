// The session stage of POST /v1/chat/completions. A request naming a session (`session_id`
// in the body, or an `x-session-id` header) is routed with the stored history in front of its
// new messages, and `session_id` never goes upstream. The new messages and the assistant's
// answer are saved only once the answer is complete — a failed, cut or aborted request leaves
// the history exactly as it was, so the client can simply retry.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { ChatChunk, ChatCompletion, ChatMessage, ChatRequest, ToolCall } from '../../providers/contract.ts'
import { invalidRequest, sessionNotFound, sessionStoreUnavailable } from '../errors.ts'
import { isInstruction, type Session, type SessionStore } from './store.ts'
import { ToolCallAccumulator } from '../../providers/tool-call-index.ts'

const MAX_SESSION_ID_LENGTH = 200

export interface SessionTurn {
  /** What to route: the stored history, then the new messages; no `session_id`. */
  request: ChatRequest
  /** The stored history alone (what a native body, which holds only the client's messages, needs in front of them). */
  history: ChatMessage[]
  /** A JSON answer arrived: save the turn. */
  complete(completion: ChatCompletion): Promise<void>
  /** Passes a stream through and saves the turn before its end, only if it ended cleanly. */
  record(chunks: AsyncGenerator<ChatChunk>): AsyncGenerator<ChatChunk>
}

/** The session a request names: `session_id` in the body, else the `x-session-id` header. */
export function sessionIdOf(request: Pick<FastifyRequest, 'headers'>, body: Record<string, unknown>): string | undefined {
  if (typeof body.session_id === 'string') return body.session_id
  const header = request.headers['x-session-id']
  if (header === undefined) return undefined
  const id = (Array.isArray(header) ? header[0] : header).trim()
  if (id.length === 0 || id.length > MAX_SESSION_ID_LENGTH) {
    throw invalidRequest(`The x-session-id header must be 1 to ${MAX_SESSION_ID_LENGTH} characters.`, 'x-session-id')
  }
  return id
}

const sameInstruction = (a: ChatMessage, b: ChatMessage) =>
  a.role === b.role && JSON.stringify(a.content) === JSON.stringify(b.content)

/**
 * A client that repeats its system prompt on every turn must not pile copies of it up: an
 * instruction identical to the latest one before it (stored, or earlier in this request) is
 * dropped. Compared with that one message only, so a turn costs the same however long the
 * session (comparing with every stored message made each turn slower than the last).
 */
export function withoutRepeatedInstructions(history: ChatMessage[], messages: ChatMessage[]): ChatMessage[] {
  let latest = history.findLast(isInstruction)
  return messages.filter((message) => {
    if (!isInstruction(message)) return true
    if (latest && sameInstruction(latest, message)) return false
    latest = message
    return true
  })
}

/** The stored form of an answer: what the model said and asked for (reasoning stays out: upstreams reject or bill it). */
function assistantMessage(content: string | null | undefined, toolCalls: ToolCall[] | undefined): ChatMessage {
  const message: ChatMessage = { role: 'assistant', content: content ?? null }
  if (toolCalls?.length) message.tool_calls = toolCalls
  else message.content ??= ''
  return message
}

/** Rebuilds choice 0's message from stream deltas (tool-call arguments arrive in fragments). */
class AssistantAccumulator {
  #content = ''
  // Keyed by index in a Map (issue 9 item 7): an array here once stalled the loop on index 4294967294.
  readonly #toolCalls = new ToolCallAccumulator()

  add(chunk: ChatChunk): void {
    const delta = chunk.choices.find((c) => c.index === 0)?.delta
    if (!delta) return
    if (typeof delta.content === 'string') this.#content += delta.content
    for (const fragment of delta.tool_calls ?? []) this.#toolCalls.add(fragment)
  }

  message(): ChatMessage {
    const calls = this.#toolCalls.calls()
    return assistantMessage(this.#content || (calls.length ? null : ''), calls)
  }
}

/** Undefined when the request names no session. */
export async function beginSessionTurn(store: SessionStore, request: FastifyRequest): Promise<SessionTurn | undefined> {
  const id = sessionIdOf(request, request.body as ChatRequest)
  // Most requests name no session: they pay for nothing here (no copy of the body).
  if (id === undefined) return undefined
  return beginTurn(store, request.body as ChatRequest, { sessionId: id, owner: request.clientKeyId ?? '', log: request.log })
}

/** The same stage without a Fastify request (the pipeline, plugins/pipeline.ts, calls this). */
export async function beginTurn(store: SessionStore, request: ChatRequest, turn: { sessionId: string; owner: string; log: FastifyBaseLogger }): Promise<SessionTurn> {
  const { sessionId: id, owner, log } = turn
  const { session_id: _ignored, ...body } = request

  let session: Session | undefined
  try {
    session = await store.get(id)
  } catch (err) {
    log.error({ err, store: store.kind }, 'session store read failed')
    throw sessionStoreUnavailable()
  }
  // Another key's session looks exactly like a missing one.
  if (session && session.owner !== owner) throw sessionNotFound(id)
  const history = session?.messages ?? []
  const fresh = withoutRepeatedInstructions(history, body.messages)

  async function save(answer: ChatMessage): Promise<void> {
    try {
      const saved = await store.append(id!, owner, [...fresh, answer])
      if (!saved) log.warn({ sessionId: id }, 'session was claimed by another key meanwhile; this turn was not saved')
    } catch (err) {
      // The answer is already the client's; losing the turn is logged rather than turned into an error.
      log.error({ err, store: store.kind, sessionId: id }, 'session store write failed; this turn was not saved')
    }
  }

  return {
    request: { ...body, messages: [...history, ...fresh] },
    history,
    async complete(completion) {
      const message = completion.choices.find((c) => c.index === 0)?.message
      if (message) await save(assistantMessage(message.content, message.tool_calls))
    },
    async *record(chunks) {
      const accumulator = new AssistantAccumulator()
      // An error or an early return (client gone) leaves the loop by throwing/returning: nothing is saved.
      for await (const chunk of chunks) {
        accumulator.add(chunk)
        yield chunk
      }
      // Saved before the route writes [DONE], so a client that continues at once sees this turn.
      await save(accumulator.message())
    },
  }
}
