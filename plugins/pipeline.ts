// Decorates `app.chat(req, ctx)`: the one path every dialect route calls (Chat Completions,
// Messages, Responses), so that a session, a cache, a fallback, a breaker and a metric behave
// the same whichever dialect the client speaks. Stages, in order:
//   1. session history (plugins/sessions/turn.ts) — prepended; the turn is saved once the
//      answer is complete (never for a failed or cut answer);
//   2. the response cache — FLEET's `app.responseCache`, asked when it is registered;
//   3. the router (`app.router.chat`): candidates, fallback, commit point, resume.
// Takes no Fastify request: a route decodes its dialect into a ChatRequest and a
// PipelineContext, and encodes what comes back. Depends on `router` and `sessions`.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { NATIVE, type ChatRequest } from '../providers/contract.ts'
import type { RequestContext, RoutedChat } from './router.ts'
import { beginTurn } from './sessions/turn.ts'
import { nativeWithHistory } from '../providers/anthropic/native.ts'

export interface PipelineContext extends RequestContext {
  /** The server-side session to continue (`session_id` or `x-session-id`), if any. */
  sessionId?: string
  /** The gateway key's non-secret id (request.clientKeyId): owns sessions, partitions caches. */
  clientKeyId?: string
  /** What ties turns of one conversation together (session_id, previous_response_id): affinity. */
  conversationId?: string
}

export type CacheOutcome = 'hit' | 'miss' | 'bypass'

export type PipelineResult = RoutedChat & { cache?: CacheOutcome }

/**
 * The shape the cache stage has (FLEET implements it as `app.responseCache`): answer from the
 * cache, or call `next` (the router) and fill the cache from what it returns.
 */
export interface ResponseCacheStage {
  /** `next` routes with `ctx` unless given another (the cache runs a shared call under its own AbortSignal). */
  chat(req: ChatRequest, ctx: PipelineContext, next: (req: ChatRequest, ctx?: PipelineContext) => Promise<RoutedChat>): Promise<PipelineResult>
}

export type ChatPipeline = (req: ChatRequest, ctx: PipelineContext) => Promise<PipelineResult>

declare module 'fastify' {
  interface FastifyInstance {
    chat: ChatPipeline
  }
}

export default fp(async function pipeline(app: FastifyInstance) {
  const route = (req: ChatRequest, ctx: PipelineContext) => app.router.chat(req, ctx)

  async function chat(req: ChatRequest, ctx: PipelineContext): Promise<PipelineResult> {
    // ── 1. session ──
    const turn = ctx.sessionId === undefined
      ? undefined
      : await beginTurn(app.sessions, req, { sessionId: ctx.sessionId, owner: ctx.clientKeyId ?? '', log: ctx.log })
    const request = turn ? turn.request : req
    // The client's native body holds only its new messages. A Messages body gets the stored
    // history written in front of them (Anthropic still gets cache_control, signed thinking and
    // every field of this turn); any other native body is dropped: the translated request has it.
    const native = request[NATIVE]
    if (turn && native) {
      if (native.dialect === 'anthropic-messages') request[NATIVE] = nativeWithHistory(native, turn.history)
      else delete request[NATIVE]
    }

    // ── 2. cache (FLEET: `app.responseCache`, when registered) ──
    const routed: PipelineResult = app.hasDecorator('responseCache')
      ? await (app as FastifyInstance & { responseCache: ResponseCacheStage }).responseCache.chat(request, ctx, (r, c) => route(r, c ?? ctx))
      : await route(request, ctx)

    // ── 3. router: done above (inside the cache stage on a miss) ──
    if (!turn) return routed
    if (!routed.stream) {
      await turn.complete(routed.value)
      return routed
    }
    return { ...routed, value: turn.record(routed.value) }
  }

  app.decorate('chat', chat)
}, { name: 'pipeline', dependencies: ['router', 'sessions'] })
