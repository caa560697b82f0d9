// The OpenAI Responses wire shapes tiergate reads and writes (a subset of the official SDK's
// types in openai/resources/responses). Everything stays open: fields tiergate does not model
// are carried where they can be (native passthrough) and ignored where they cannot.

/** One input or output item: `message`, `function_call`, `function_call_output`, `reasoning`, … */
export type Item = { type?: string; [k: string]: any }

export interface FunctionTool {
  type: 'function'
  name: string
  description?: string | null
  parameters?: Record<string, unknown> | null
  strict?: boolean | null
}

export type ResponsesToolChoice =
  | 'none' | 'auto' | 'required'
  | { type: 'function'; name: string }
  | { type: 'allowed_tools'; mode: 'auto' | 'required'; tools: Array<{ type: string; name?: string }> }
  | { type: string; [k: string]: unknown }

export interface TextFormat {
  type: 'text' | 'json_object' | 'json_schema' | string
  name?: string
  schema?: Record<string, unknown>
  description?: string
  strict?: boolean | null
}

/** POST /v1/responses as a client sends it. */
export interface ResponsesRequest {
  model: string
  input?: string | Item[]
  instructions?: string | null
  tools?: Array<FunctionTool | { type: string; [k: string]: unknown }>
  tool_choice?: ResponsesToolChoice
  parallel_tool_calls?: boolean | null
  text?: { format?: TextFormat; [k: string]: unknown } | null
  reasoning?: { effort?: string | null; summary?: string | null; [k: string]: unknown } | null
  max_output_tokens?: number | null
  temperature?: number | null
  top_p?: number | null
  metadata?: Record<string, string> | null
  store?: boolean | null
  previous_response_id?: string | null
  stream?: boolean | null
  user?: string
  [k: string]: unknown
}

export interface ResponsesUsage {
  input_tokens: number
  input_tokens_details: { cached_tokens: number; [k: string]: number }
  output_tokens: number
  output_tokens_details: { reasoning_tokens: number; [k: string]: number }
  total_tokens: number
}

export type ResponseStatus = 'completed' | 'failed' | 'in_progress' | 'incomplete'

/** The `response` object (GET /v1/responses/{id}, the non-stream answer, every lifecycle event). */
export interface ResponseObject {
  id: string
  object: 'response'
  created_at: number
  status: ResponseStatus
  completed_at?: number | null
  error: { code: string; message: string } | null
  incomplete_details: { reason: string } | null
  instructions: string | null
  max_output_tokens: number | null
  model: string
  output: Item[]
  parallel_tool_calls: boolean
  previous_response_id: string | null
  reasoning: { effort: string | null; summary: string | null }
  store: boolean
  temperature: number | null
  text: { format: TextFormat }
  tool_choice: ResponsesToolChoice
  tools: ResponsesRequest['tools'] & unknown[]
  top_p: number | null
  truncation: 'disabled' | 'auto'
  usage: ResponsesUsage | null
  user: string | null
  metadata: Record<string, string>
  [k: string]: unknown
}
