// Internal completion → Responses `response` object, and the pieces the stream encoder
// shares with it (output items, usage, status). Pure.
import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../../providers/contract.ts'
import { newId } from './ids.ts'
import type { Item, ResponseObject, ResponseStatus, ResponsesRequest, ResponsesUsage } from './types.ts'

/** What a response object echoes besides its output: fixed before the upstream answers. */
export interface ResponseFrame {
  id: string
  createdAt: number
  body: ResponsesRequest
}

export function toResponsesUsage(usage: Usage | null | undefined): ResponsesUsage | null {
  if (!usage) return null
  const details = (value: unknown) => (typeof value === 'object' && value !== null ? value as Record<string, unknown> : {})
  const cached = Number(details(usage.prompt_tokens_details).cached_tokens ?? 0)
  const reasoning = Number(details(usage.completion_tokens_details).reasoning_tokens ?? 0)
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
  }
}

/** finish_reason → the response's status: `length` is OpenAI's `max_output_tokens` incompleteness. */
export function statusFor(finish: FinishReason | undefined): { status: ResponseStatus; incomplete_details: { reason: string } | null } {
  if (finish === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } }
  if (finish === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } }
  return { status: 'completed', incomplete_details: null }
}

export const outputText = (text: string) => ({ type: 'output_text', annotations: [], logprobs: [], text })

export function messageItem(id: string, text: string, status = 'completed'): Item {
  return { id, type: 'message', status, content: [outputText(text)], role: 'assistant' }
}

export function reasoningItem(id: string, text: string): Item {
  return { id, type: 'reasoning', summary: [{ type: 'summary_text', text }] }
}

export function functionCallItem(id: string, call: Pick<ToolCall, 'id'> & { function: { name: string; arguments: string } }, status = 'completed'): Item {
  return { id, type: 'function_call', status, arguments: call.function.arguments, call_id: call.id, name: call.function.name }
}

/** The response object before any output: what `response.created` shows. */
export function baseResponse(frame: ResponseFrame, model: string): ResponseObject {
  const { body } = frame
  return {
    id: frame.id,
    object: 'response',
    created_at: frame.createdAt,
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output: [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: (body.tools ?? []) as ResponseObject['tools'],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: null,
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  }
}

/** A finished response (status completed or incomplete) with its output and usage. */
export function finishResponse(base: ResponseObject, output: Item[], finish: FinishReason | undefined, usage: Usage | null | undefined, nowSeconds: number): ResponseObject {
  const { status, incomplete_details } = statusFor(finish)
  return { ...base, status, completed_at: status === 'completed' ? nowSeconds : null, incomplete_details, output, usage: toResponsesUsage(usage) }
}

/** A non-stream completion as the Responses API answers it. */
export function toResponseObject(completion: ChatCompletion, frame: ResponseFrame, nowSeconds = Math.floor(Date.now() / 1000)): ResponseObject {
  const choice = completion.choices.find((c) => c.index === 0) ?? completion.choices[0]
  const message = choice?.message
  const output: Item[] = []
  if (message?.reasoning_content) output.push(reasoningItem(newId('rs'), message.reasoning_content))
  if (typeof message?.refusal === 'string' && message.refusal && !message.content) {
    output.push({ id: newId('msg'), type: 'message', status: 'completed', content: [{ type: 'refusal', refusal: message.refusal }], role: 'assistant' })
  } else if (typeof message?.content === 'string' && (message.content !== '' || !message.tool_calls?.length)) {
    output.push(messageItem(newId('msg'), message.content))
  }
  for (const call of message?.tool_calls ?? []) output.push(functionCallItem(newId('fc'), call))
  return finishResponse(baseResponse(frame, completion.model), output, choice?.finish_reason ?? undefined, completion.usage, nowSeconds)
}

/**
 * Output items as they are replayed as input of a later turn (previous_response_id): id-less
 * messages and calls, which any key of any upstream accepts; reasoning stays out (OpenAI only
 * takes it back from the account that produced it).
 */
export function replayableOutput(output: Item[]): Item[] {
  const items: Item[] = []
  for (const item of output) {
    if (item.type === 'message') {
      const text = (item.content ?? []).map((p: Item) => (typeof p.text === 'string' ? p.text : typeof p.refusal === 'string' ? p.refusal : '')).join('')
      items.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] })
    } else if (item.type === 'function_call') {
      items.push({ type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments })
    }
  }
  return items
}
