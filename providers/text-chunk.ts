// The text chunk of a translated stream (Anthropic's SSE events, Ollama's NDJSON lines), built
// with its own JSON text (RAW_JSON). Most chunks of an answer are one token of text; without
// that text, the SSE writer serialized every one of them, and with a key configured the
// secret scrubber walked every field of every one (issue 14: the two were ~25 µs of a 20-chunk
// stream from Anthropic). The text is written from a template, per stream, and is exactly
// what JSON.stringify writes for the chunk (test/providers/text-chunk.test.ts).
import { RAW_JSON, type ChatChunk } from './contract.ts'

export type TextField = 'content' | 'reasoning_content'

const TAIL = '},"logprobs":null,"finish_reason":null}]}'

export class TextChunks {
  #id: string | undefined
  #created: number | undefined
  #model: string | undefined
  /** `{"id":…,"object":"chat.completion.chunk","created":…,"model":…,"choices":[{"index":0,"delta":{"` */
  #head = ''

  /**
   * `{ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { [field]: text }, logprobs: null, finish_reason: null }] }`,
   * with RAW_JSON its serialization.
   */
  chunk(id: string, created: number, model: string, field: TextField, text: string): ChatChunk {
    // Object.is: an upstream's unreadable time is NaN, which `!==` would take for a new head on every chunk.
    if (id !== this.#id || !Object.is(created, this.#created) || model !== this.#model) {
      this.#id = id
      this.#created = created
      this.#model = model
      this.#head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${JSON.stringify(created)},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":{"`
    }
    const delta = field === 'content' ? { content: text } : { reasoning_content: text }
    const chunk: ChatChunk = { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] }
    chunk[RAW_JSON] = `${this.#head}${field}":${JSON.stringify(text)}${TAIL}`
    return chunk
  }
}
