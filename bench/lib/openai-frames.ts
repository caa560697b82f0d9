// The mock upstream's OpenAI-style stream (bench/upstream.ts serves it; bench/stream-floor.ts
// reads it in process): a role chunk, chunks of text, a finish chunk, `[DONE]`.

export const STREAM_CHUNKS = 20
export const CREATED = 1726012687

const frame = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'bench-model', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`
const usageFrame = `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: CREATED, model: 'bench-model', choices: [], usage: { prompt_tokens: 9, completion_tokens: 18, total_tokens: 27 } })}\n\n`

/** The SSE frames of a stream of `chunks` chunks (the usage chunk before `[DONE]` when asked for). */
export function openAIFrames(chunks: number, withUsage: boolean): string[] {
  const out = [frame({ role: 'assistant', content: '' })]
  for (let i = 0; i < chunks - 2; i++) out.push(frame({ content: `token${i} ` }))
  out.push(frame({}, 'stop'))
  if (withUsage) out.push(usageFrame)
  out.push('data: [DONE]\n\n')
  return out
}
