// Streams after the router has committed to a provider: the first chunk already pulled,
// the rest pulled on demand; whatever ends the stream releases the attempt exactly once.
import type { ChatChunk, ChatCompletion, Usage } from '../../providers/contract.ts'
import { toUpstreamError } from '../../providers/upstream-error.ts'
import type { Attempt } from './attempt.ts'
import { UpstreamError } from '../../providers/upstream-error.ts'

export type StreamOutcome = 'complete' | 'failed' | 'aborted'

/**
 * Yields `first`, then the rest of `iterator`. A failure after commit is rethrown as an
 * UpstreamError (the route turns it into an error event); the upstream request is aborted
 * on any early end, so its socket is freed at once.
 */
export async function* committedStream(
  first: ChatChunk,
  iterator: AsyncIterator<ChatChunk>,
  attempt: Attempt,
  idleMs: number,
  onEnd: (outcome: StreamOutcome, usage: Usage | undefined, err: UpstreamError | undefined) => void,
): AsyncGenerator<ChatChunk> {
  let outcome: StreamOutcome = 'aborted'
  let usage = first.usage ?? undefined
  let failure: UpstreamError | undefined
  try {
    yield first
    for (;;) {
      // The idle clock runs only while we wait on the upstream, not while the client reads.
      attempt.armIdle(idleMs)
      const next = await iterator.next()
      attempt.disarmIdle()
      if (next.done) break
      if (next.value.usage) usage = next.value.usage
      yield next.value
    }
    outcome = 'complete'
  } catch (err) {
    failure = toUpstreamError(err, attempt.signal)
    outcome = attempt.clientLeft ? 'aborted' : 'failed'
    throw failure
  } finally {
    if (outcome !== 'complete') {
      attempt.abort(failure ?? new UpstreamError('aborted', 'the client closed the request'))
      await iterator.return?.().catch(() => undefined)
    }
    attempt.release()
    onEnd(outcome, usage, failure)
  }
}

/** A provider answered JSON to a streaming request (GPT4All cannot stream): replay it as chunks. */
export function completionToChunks(completion: ChatCompletion, includeUsage: boolean): ChatChunk[] {
  const base = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model }
  const chunks: ChatChunk[] = []
  for (const choice of completion.choices) {
    const { content, tool_calls: toolCalls, reasoning_content: reasoning } = choice.message
    chunks.push({ ...base, choices: [{ index: choice.index, delta: { role: 'assistant', content: '' }, finish_reason: null }] })
    if (reasoning) chunks.push({ ...base, choices: [{ index: choice.index, delta: { reasoning_content: reasoning }, finish_reason: null }] })
    if (content) chunks.push({ ...base, choices: [{ index: choice.index, delta: { content }, finish_reason: null }] })
    if (toolCalls?.length) {
      chunks.push({
        ...base,
        choices: [{ index: choice.index, delta: { tool_calls: toolCalls.map((call, index) => ({ index, ...call })) }, finish_reason: null }],
      })
    }
    chunks.push({ ...base, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason ?? 'stop' }] })
  }
  if (includeUsage && completion.usage) chunks.push({ ...base, choices: [], usage: completion.usage })
  return chunks
}

export async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items
}
