// Cuts the overlap between what the client already received and what a continuation sends.
// A continuation may start over (repeat the whole delivered text), repeat the last words, or
// really continue; it may begin with or without the space that separates it from the
// delivered text. The cutter holds back only the continuation's first characters, and only
// while they could still be a repeat; once that is decided it passes everything on.
//
// Pure and synchronous: text in, text out. Nothing is ever lost: what is held is either cut
// (because the client has it already) or released.
import { UpstreamError } from '../../../providers/upstream-error.ts'

/**
 * At most this many characters are held back to decide. A repeat of the last words is looked
 * for in the last MAX_PROBE_CHARS of the delivered text; a start-over is taken as certain once
 * this many characters of it matched the delivered text from its start.
 */
export const MAX_PROBE_CHARS = 256
/** A repeat of the last words counts only when it has at least this many non-space characters. */
export const MIN_REPEAT_CHARS = 3
/**
 * After a prefill the model writes on from the delivered text itself, so a repeat of its last
 * words is rare, and a short one is more likely real repetitive text ("ha ha ha", list items)
 * than an echo: a tail must hold this many words to be cut. After a continue-instruction,
 * models often echo the last word or two, so one word is enough.
 */
export const MIN_REPEAT_WORDS = { prefill: 3, instruction: 1 } as const

/** Words as a reader counts them: runs of non-space ("Byte erhalten —" is three). */
const WORDS = /\S+/g

const WHITESPACE = /\s/
const WORD = /[\p{L}\p{N}_]/u

/**
 * Thrown when a start-over stops matching before it reached the end of the delivered text:
 * that leg cannot continue this answer (a malformed stream for the router: try the next one).
 */
export class ContinuationDiverged extends UpstreamError {
  constructor() {
    super('malformed', 'the continuation started over and then diverged from the text already delivered')
  }
}

/** Offsets in `text` where a repeated tail may start: the start, and every word start near the end. */
export function tailStarts(text: string, minWords = 1): number[] {
  const starts = text.length > 0 ? [0] : []
  for (let i = Math.max(1, text.length - MAX_PROBE_CHARS); i <= text.length - MIN_REPEAT_CHARS; i++) {
    const here = text[i]
    const before = text[i - 1]
    if (WHITESPACE.test(here)) continue
    // A word start: after a space or punctuation, or a punctuation mark itself after a word.
    if (!WORD.test(before) || !WORD.test(here)) {
      const tail = text.slice(i)
      if (tail.replace(/\s/g, '').length >= MIN_REPEAT_CHARS && (tail.match(WORDS)?.length ?? 0) >= minWords) starts.push(i)
    }
  }
  return starts
}

/** Length of the common prefix of two strings. */
function commonPrefix(a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

type State =
  | { mode: 'deciding'; held: string }
  | { mode: 'skipping'; position: number } // a start-over: drop what the client already has
  | { mode: 'passing' }

export class OverlapCutter {
  /** The delivered text without its trailing whitespace: what a repeat is compared with. */
  readonly #delivered: string
  /** Whitespace the delivered text ended with (the client has it: a continuation's leading space is not doubled). */
  readonly #trailingSpace: string
  readonly #starts: number[]
  #state: State
  /** How much of #trailingSpace the continuation's leading whitespace has repeated so far; -1 once past the seam. */
  #seamMatched: number

  /** `minRepeatWords`: how many words a repeated tail needs (MIN_REPEAT_WORDS; a start-over always counts). */
  constructor(delivered: string, minRepeatWords = 1) {
    this.#delivered = delivered.trimEnd()
    this.#trailingSpace = delivered.slice(this.#delivered.length)
    this.#starts = tailStarts(this.#delivered, minRepeatWords)
    this.#state = this.#delivered.length === 0 ? { mode: 'passing' } : { mode: 'deciding', held: '' }
    this.#seamMatched = this.#trailingSpace.length > 0 ? 0 : -1
  }

  /** Text of the continuation in, text for the client out (possibly ''). */
  push(text: string): string {
    if (text.length === 0) return ''
    const state = this.#state
    if (state.mode === 'passing') return this.#seam(text)
    if (state.mode === 'skipping') return this.#skip(state, text)
    state.held += text
    return this.#decide(state, false)
  }

  /** The continuation ended (or a non-text part came): decide with what is held. */
  flush(): string {
    const state = this.#state
    if (state.mode === 'deciding') return this.#decide(state, true)
    if (state.mode === 'skipping') this.#state = { mode: 'passing' }
    return ''
  }

  /** Characters held back right now (bounded by MAX_PROBE_CHARS plus one piece). */
  held(): number {
    return this.#state.mode === 'deciding' ? this.#state.held.length : 0
  }

  #decide(state: { mode: 'deciding'; held: string }, final: boolean): string {
    const lead = state.held.length - state.held.trimStart().length
    const probe = state.held.slice(lead)
    if (probe.length === 0 && !final) return '' // only whitespace so far: not decidable yet
    const delivered = this.#delivered
    let best: number | undefined // the longest repeat found: smallest start offset
    let open = false
    for (const start of this.#starts) {
      const expected = delivered.slice(start)
      const common = commonPrefix(probe, expected)
      if (common === expected.length) {
        if (best === undefined || start < best) best = start
      } else if (common === probe.length) {
        // Still a possible repeat. A start-over that matched MAX_PROBE_CHARS is certain.
        if (start === 0 && common >= MAX_PROBE_CHARS) {
          this.#state = { mode: 'skipping', position: common }
          return ''
        }
        open = true
      }
    }
    if (open && !final) return ''
    this.#state = { mode: 'passing' }
    const rest = best === undefined ? state.held : probe.slice(delivered.length - best)
    // A repeat is cut with the whitespace in front of it; the rest starts at the seam.
    return this.#seam(rest)
  }

  #skip(state: { mode: 'skipping'; position: number }, text: string): string {
    const expected = this.#delivered.slice(state.position)
    const common = commonPrefix(text, expected)
    if (common < Math.min(text.length, expected.length)) throw new ContinuationDiverged()
    state.position += common
    if (state.position < this.#delivered.length) return ''
    this.#state = { mode: 'passing' }
    return this.#seam(text.slice(common))
  }

  /** The client already has the delivered text's trailing whitespace: do not send it twice. */
  // The seam may arrive split over pieces ("\n" then "\n"), so the match carries over.
  #seam(text: string): string {
    if (this.#seamMatched < 0 || text.length === 0) return text
    const same = commonPrefix(this.#trailingSpace.slice(this.#seamMatched), text)
    this.#seamMatched += same
    if (same < text.length || this.#seamMatched === this.#trailingSpace.length) this.#seamMatched = -1
    return text.slice(same)
  }
}
