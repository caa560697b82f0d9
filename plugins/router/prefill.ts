// Which continuation a candidate gets when a stream is resumed on it. A prefill (the delivered
// text as a final assistant message, continued by the model) is the cleanest, but not every
// provider takes one: Anthropic does, OpenAI does not, OpenAI-compatible servers vary. A
// provider's `<NAME>_PREFILL` (on/off) decides; `auto` (default) follows what the adapter
// declares (`acceptsPrefill`), and 'learn' means: try it, and once the provider answers a
// gateway-made prefill with a 400, use the continue-instruction for it from then on.
import type { FastifyBaseLogger } from 'fastify'
import type { ProviderEntry } from '../registry.ts'
import type { Strategy } from './dispatch.ts'

export class PrefillPolicy {
  /** Providers seen refusing a prefill (for 'learn'). */
  readonly #refused = new Set<string>()

  strategyFor(entry: ProviderEntry): Strategy {
    const setting = entry.settings.prefill ?? 'auto'
    if (setting === 'on') return 'prefill'
    if (setting === 'off') return 'instruction'
    const declared = entry.provider.acceptsPrefill
    if (declared === true) return 'prefill'
    if (declared === 'learn') return this.#refused.has(entry.name) ? 'instruction' : 'prefill'
    return 'instruction'
  }

  rejected(entry: ProviderEntry, log: FastifyBaseLogger): void {
    if (this.#refused.has(entry.name)) return
    this.#refused.add(entry.name)
    log.info({ provider: entry.name }, 'the provider refused a prefill; resumes on it use the continue-instruction from now on')
  }

  snapshot(): string[] {
    return [...this.#refused]
  }
}
