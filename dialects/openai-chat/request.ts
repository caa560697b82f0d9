// Chat Completions request decode: the internal format IS Chat Completions, so decoding only
// takes out what is tiergate's own (`session_id`, which never goes upstream).
import type { ChatRequest } from '../../providers/contract.ts'

export interface DecodedChat {
  request: ChatRequest
  /** `session_id` from the body (the route falls back to the `x-session-id` header). */
  sessionId: string | undefined
}

export function decodeChatRequest(body: ChatRequest): DecodedChat {
  // Most requests name no session: they pay for nothing here (no copy of the body).
  if (body.session_id === undefined) return { request: body, sessionId: undefined }
  const { session_id: sessionId, ...request } = body
  return { request, sessionId: typeof sessionId === 'string' ? sessionId : undefined }
}
