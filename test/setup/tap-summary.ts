// tap's reporter in `npm test` (.taprc: `reporter: node`, `reporter-arg: test/setup/tap-summary.ts`):
// the raw TAP stream passes through unchanged, and at its end every failure is listed again —
// its test file, subtest path and the assertion's diagnostic — so that a log whose tail is
// all one keeps (a CI excerpt) still names what failed, not only `fail: 1`.
import { createInterface } from 'node:readline'

/** Lines of one assertion's YAML diagnostic kept in the summary: enough to see what was compared. */
const MAX_DIAGNOSTIC_LINES = 30
/** Diagnostic keys left out of the summary: where the assertion is, which the stream above has in full. */
const LOCATION_KEYS = new Set(['at', 'stack', 'source'])

export interface Failure {
  /** Subtest names from the file down to the failing assertion. */
  path: string[]
  line: string
  diagnostic: string[]
}

/** Collects failures from TAP lines; pure apart from its own state, so it is tested line by line. */
export class FailureCollector {
  readonly failures: Failure[] = []
  /** Subtest names by nesting depth (4 spaces of indentation per level). */
  #names: string[] = []
  #open: Failure | undefined
  #inDiagnostic = false
  #diagnosticIndent = -1
  #skippingKey = false

  add(line: string): void {
    const indent = line.length - line.trimStart().length
    const depth = Math.floor(indent / 4)
    const text = line.trim()
    if (this.#open && this.#inDiagnostic) {
      if (text === '...') {
        this.#inDiagnostic = false
        this.#open = undefined
      } else if (this.#keepDiagnostic(line, indent) && this.#open.diagnostic.length < MAX_DIAGNOSTIC_LINES) this.#open.diagnostic.push(line)
      return
    }
    if (this.#open && text === '---') {
      this.#inDiagnostic = true
      this.#diagnosticIndent = -1
      return
    }
    this.#open = undefined
    const subtest = /^# Subtest: (.*)$/.exec(text)
    if (subtest) {
      this.#names.length = depth
      this.#names[depth] = subtest[1]
      return
    }
    if (/^not ok \d+/.test(text) && !/# (TODO|SKIP)\b/i.test(text)) {
      const path = [...this.#names.slice(0, depth), text.replace(/^not ok \d+( - )?/, '').replace(/ # time=.*$/, '')]
      // A failing subtest repeats the failures inside it: only the innermost ones are listed.
      const inner = this.failures.some((f) => f.path.length > path.length && path.every((name, i) => f.path[i] === name))
      const failure: Failure = { path, line: text, diagnostic: [] }
      if (!inner) this.failures.push(failure)
      this.#open = failure
    }
  }

  /** A line of the open diagnostic, unless it belongs to a location key (a key sits at the block's own indentation). */
  #keepDiagnostic(line: string, indent: number): boolean {
    if (this.#diagnosticIndent < 0) this.#diagnosticIndent = indent
    if (line.trim() === '') return !this.#skippingKey
    if (indent === this.#diagnosticIndent) {
      const key = /^\s*([\w-]+):/.exec(line)?.[1]
      this.#skippingKey = key !== undefined && LOCATION_KEYS.has(key)
    }
    return !this.#skippingKey
  }

  summary(): string {
    if (this.failures.length === 0) return ''
    const blocks = this.failures.map((f) => [`  ✖ ${f.path.join(' › ')}`, ...f.diagnostic].join('\n'))
    return `\n# ── ${this.failures.length} failure${this.failures.length === 1 ? '' : 's'} ──\n${blocks.join('\n')}\n`
  }
}

if (import.meta.main) {
  const collector = new FailureCollector()
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
  for await (const line of lines) {
    process.stdout.write(line + '\n')
    collector.add(line)
  }
  process.stdout.write(collector.summary())
}
