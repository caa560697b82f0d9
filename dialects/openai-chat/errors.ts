// The Chat Completions error envelope {"error":{"message","type","param","code"}} — also the
// default for every route that names no dialect (and the Responses API's, which is the same).
export interface OpenAIErrorFields {
  statusCode: number
  message: string
  type: string
  param: string | null
  code: string | null
}

export interface OpenAIErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null }
}

export function openAIErrorEnvelope(err: OpenAIErrorFields): OpenAIErrorEnvelope {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } }
}
