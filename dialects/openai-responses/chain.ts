// Response chains (previous_response_id), pure: what a turn sends a native upstream, and what
// is stored after it. The gateway always resolves the chain itself — never the upstream — so a
// chain continues on whichever provider and key answers now (an upstream's ids belong to one
// of its accounts, and the first turn may not even have been served by it).
import { inputItems } from './request.ts'
import { replayableOutput } from './response.ts'
import type { Item, ResponseObject, ResponsesRequest } from './types.ts'
import { newId } from './ids.ts'

/** The body a native upstream gets: the client's own, with the stored chain written out in front of its input. */
export function nativeBody(body: ResponsesRequest, history: Item[]): Record<string, unknown> {
  if (history.length === 0 && body.previous_response_id == null) return body
  const { previous_response_id: _resolved, ...rest } = body
  return { ...rest, input: [...history, ...inputItems(body.input)] }
}

/** Input items as GET …/input_items lists them: each message with an id, as OpenAI lists them. */
export function identifiedInput(body: ResponsesRequest): Item[] {
  const isMessage = (item: Item) => item.type === 'message' || (item.type === undefined && item.role !== undefined)
  return inputItems(body.input).map((item) => (item.id || !isMessage(item) ? item : { id: newId('msg'), type: 'message', ...item }))
}

/** The chain after this turn: what a later previous_response_id replays. */
export function chainAfter(history: Item[], input: Item[], response: ResponseObject): Item[] {
  const replayedInput = input.map(({ id: _id, ...item }) => item)
  return [...history, ...replayedInput, ...replayableOutput(response.output ?? [])]
}
