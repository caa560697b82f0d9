// What the Responses encoder must know of a native stream it writes through untouched: the
// upstream's sequence numbers, its response object, its output items and those still open —
// so that a translated leg after it (a resume) continues the same sequence and items, and the
// stored response is the upstream's own. Pure.
import type { Item, ResponseObject } from './types.ts'
import { parseUpstreamJson } from '../../providers/json-depth.ts'

export interface FollowedItem {
  kind: 'message' | 'reasoning'
  index: number
  id: string
  /** The text streamed into it so far. */
  text: string
}

export class NativeFollower {
  /** The next sequence number after the upstream's last. */
  nextSequence = 0
  /** The upstream's response object, as its last lifecycle event showed it. */
  response: ResponseObject | undefined
  /** Its terminal response (completed, incomplete or failed), once sent. */
  final: ResponseObject | undefined
  /** Output items by output_index, as last announced. */
  readonly output: Item[] = []
  /** Messages and reasoning items added but not done. */
  readonly open = new Map<number, FollowedItem>()

  /**
   * Reads the events of one native chunk: `events` when its reader parsed them already (the
   * provider's NativeEventReader does: each event is parsed once), else its text.
   */
  read(text: string, events?: readonly unknown[]): void {
    if (events) {
      for (const event of events) if (typeof event === 'object' && event !== null) this.#event(event as Item)
      return
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('data:')) continue
      let event: Item
      try {
        event = parseUpstreamJson(line.slice(5))
      } catch {
        continue
      }
      this.#event(event)
    }
  }

  #event(event: Item): void {
    if (typeof event.sequence_number === 'number') this.nextSequence = Math.max(this.nextSequence, event.sequence_number + 1)
    if (event.response) this.response = event.response
    if (event.type === 'response.completed' || event.type === 'response.incomplete' || event.type === 'response.failed') this.final = event.response
    this.#item(event)
  }

  #item(event: Item): void {
    const index = event.output_index
    if (typeof index !== 'number') return
    if (event.type === 'response.output_item.added') {
      const item: Item = event.item ?? {}
      this.output[index] = item
      if (item.type === 'message' || item.type === 'reasoning') this.open.set(index, { kind: item.type, index, id: item.id, text: '' })
    } else if (event.type === 'response.output_item.done') {
      this.output[index] = event.item ?? {}
      this.open.delete(index)
    } else if (event.type === 'response.output_text.delta' || event.type === 'response.reasoning_summary_text.delta') {
      const open = this.open.get(index)
      if (open) open.text += String(event.delta ?? '')
    }
  }
}
