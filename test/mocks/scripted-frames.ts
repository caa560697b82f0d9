// The SSE events of a planned answer, byte for byte as PROTOCOLS.md describes them: OpenAI
// chunks (role chunk, reasoning, word-sized content pieces, tool-call start + argument
// fragments, finish, optional usage chunk, [DONE]) and Anthropic events (message_start, ping,
// thinking/text/tool_use blocks with their deltas, message_delta, message_stop). The indices
// of the events carrying text and tool arguments let a script cut exactly inside them.
import { tokens, type Plan } from './continuation.ts'

export interface Frames {
  frames: string[]
  /** Indices of events carrying answer text. */
  textFrames: number[]
  /** Indices of events carrying tool-call argument fragments. */
  toolArgFrames: number[]
}

const CREATED = 1726012687
const PROMPT_TOKENS = 21

/** Arguments in three fragments, as upstreams stream them. */
function fragments(args: string): string[] {
  const third = Math.ceil(args.length / 3) || 1
  const out: string[] = []
  for (let i = 0; i < args.length; i += third) out.push(args.slice(i, i + third))
  return out
}

const completionTokens = (plan: Plan) => tokens(plan.text, plan.pieces).length + tokens(plan.reasoning, plan.pieces).length + plan.toolCalls.length * 8

export function openAIFrames(model: string, plan: Plan, includeUsage: boolean): Frames {
  const base = { id: `chatcmpl-scripted-${plan.mode}`, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_mock' }
  const frame = (choices: unknown[], usage: unknown = null) => `data: ${JSON.stringify({ ...base, choices, usage })}\n\n`
  const delta = (d: Record<string, unknown>, finish: string | null = null) => frame([{ index: 0, delta: d, logprobs: null, finish_reason: finish }])
  const out: Frames = { frames: [delta({ role: 'assistant', content: '', refusal: null })], textFrames: [], toolArgFrames: [] }
  for (const piece of tokens(plan.reasoning, plan.pieces)) out.frames.push(delta({ reasoning_content: piece }))
  for (const piece of tokens(plan.text, plan.pieces)) {
    out.textFrames.push(out.frames.length)
    out.frames.push(delta({ content: piece }))
  }
  plan.toolCalls.forEach((call, index) => {
    out.frames.push(delta({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }))
    for (const piece of fragments(call.arguments)) {
      out.toolArgFrames.push(out.frames.length)
      out.frames.push(delta({ tool_calls: [{ index, function: { arguments: piece } }] }))
    }
  })
  out.frames.push(delta({}, plan.toolCalls.length > 0 ? 'tool_calls' : 'stop'))
  if (includeUsage) {
    const completion = completionTokens(plan)
    out.frames.push(frame([], { prompt_tokens: PROMPT_TOKENS, completion_tokens: completion, total_tokens: PROMPT_TOKENS + completion }))
  }
  out.frames.push('data: [DONE]\n\n')
  return out
}

const event = (data: Record<string, unknown>) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`
const PING = 'event: ping\ndata: {"type": "ping"}\n\n'

export function anthropicFrames(model: string, plan: Plan): Frames {
  const out: Frames = { frames: [], textFrames: [], toolArgFrames: [] }
  out.frames.push(event({ type: 'message_start', message: { id: `msg_scripted_${plan.mode}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: PROMPT_TOKENS, output_tokens: 1 } } }))
  out.frames.push(PING)
  let index = 0
  if (plan.reasoning) {
    out.frames.push(event({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '' } }))
    for (const piece of tokens(plan.reasoning, plan.pieces)) out.frames.push(event({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } }))
    out.frames.push(event({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIMmock' } }))
    out.frames.push(event({ type: 'content_block_stop', index }))
    index++
  }
  if (plan.text) {
    out.frames.push(event({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }))
    for (const piece of tokens(plan.text, plan.pieces)) {
      out.textFrames.push(out.frames.length)
      out.frames.push(event({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }))
    }
    out.frames.push(event({ type: 'content_block_stop', index }))
    index++
  }
  for (const call of plan.toolCalls) {
    out.frames.push(event({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } }))
    for (const piece of fragments(call.arguments)) {
      out.toolArgFrames.push(out.frames.length)
      out.frames.push(event({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }))
    }
    out.frames.push(event({ type: 'content_block_stop', index }))
    index++
  }
  out.frames.push(event({ type: 'message_delta', delta: { stop_reason: plan.toolCalls.length > 0 ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: completionTokens(plan) } }))
  out.frames.push(event({ type: 'message_stop' }))
  return out
}

export const openAIStreamError = () =>
  `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } })}\n\n`

export const anthropicStreamError = () => event({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })
