// The start summary: one readable block when the server listens — every enabled provider in
// the order the router tries them (tier, reachable or not, how many models), every host
// outside this machine's network that prompts may reach, and, when nothing can answer, the
// one line that says what to do. Written as plain text to stdout when the logs go there (the
// terminal, `docker logs`), plus one JSON log line `start summary` with the same facts.
// Decorates `app.startupSummary()` (the text, for anyone who wants to show it again).
// Depends on `registry` and `discovery` (reachability = the last discovery's outcome).
import fp from 'fastify-plugin'
import pino from 'pino'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { redactQuery } from './redact.ts'

/** What a newcomer does when nothing can answer (also the tail of such a 404). */
export function firstRunHint(): string {
  return 'Nothing can answer yet: set a provider key in .env (for example GROQ_API_KEY, see .env.example), '
    + 'start Ollama (`ollama serve`, then `ollama pull llama3.2`), or point LOCAL_MODEL_PATH at a .gguf model file, then restart tiergate.'
}

export interface ProviderView {
  name: string
  catchAll: boolean
  models: number
}

/** Some enabled provider has a model to serve (or takes any name). */
export const canAnswerAnything = (views: ProviderView[]) => views.some((v) => v.catchAll || v.models > 0)

export interface SummaryProvider extends ProviderView {
  tier: number
  /** true: its last discovery answered; false: it failed; undefined: nothing to discover (fixed catalog). */
  reachable: boolean | undefined
  error: string | undefined
  /** Where its prompts go, in words (URLs, "in-process: <file>"). */
  where: string
}

export interface EgressHost {
  host: string
  /** Which provider, and when (e.g. "ollama: models not installed locally"). */
  why: string
}

export interface SummaryView {
  listen: string
  providers: SummaryProvider[]
  egress: EgressHost[]
}

const LOCAL_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1|0\.0\.0\.0|10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|172\.(1[6-9]|2\d|3[01])\.\d+\.\d+|host\.docker\.internal|[^.]+|.+\.(local|internal|lan))$/i

/** A host in this machine's network (loopback, private ranges, single-label or .local names). */
export function isLocalHost(host: string): boolean {
  return LOCAL_HOST.test(host)
}

/** A URL for people (the start summary, the status page): no user:password, no credential in the query. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.username = ''
    parsed.password = ''
    return redactQuery(parsed.toString().replace(/\/$/, ''))
  } catch {
    return redactQuery(url)
  }
}

export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname
  } catch {
    return undefined
  }
}

/** Providers in the order the router tries them: tier, then name. */
export function inTierOrder<T extends { tier: number; name: string }>(items: T[]): T[] {
  return [...items].sort((a, b) => a.tier - b.tier || a.name.localeCompare(b.name))
}

function reachability(p: SummaryProvider): string {
  if (p.reachable === undefined) return 'not checked'
  if (!p.reachable) return 'UNREACHABLE'
  return p.name === 'local' ? 'file ok' : 'reachable'
}

/** The block, as a newcomer reads it. Pure. */
export function renderSummary(view: SummaryView): string {
  const lines = [`tiergate is listening on ${view.listen}  (playground ${view.listen}/ · status ${view.listen}/status · readiness ${view.listen}/health/ready)`]
  if (view.providers.length === 0) {
    lines.push('No provider is enabled.')
  } else {
    lines.push('Providers, in the order they are tried:')
    const width = Math.max(...view.providers.map((p) => p.name.length))
    for (const p of inTierOrder(view.providers)) {
      const models = p.catchAll ? 'any model' : `${p.models} model${p.models === 1 ? '' : 's'}`
      const problem = p.error ? ` — ${p.error}` : ''
      lines.push(`  tier ${String(p.tier).padEnd(2)} ${p.name.padEnd(width)}  ${reachability(p).padEnd(11)} ${models.padEnd(10)} ${p.where}${problem}`)
    }
  }
  if (view.egress.length) {
    lines.push('Prompts may leave this machine for:')
    for (const e of view.egress) lines.push(`  ${e.host}  (${e.why})`)
  } else {
    lines.push('No prompt leaves this machine\'s network.')
  }
  if (!canAnswerAnything(view.providers)) lines.push(firstRunHint())
  return `${lines.join('\n')}\n`
}

export interface EgressConfig {
  ollama: { localBaseUrl: string; remoteBaseUrl: string | undefined }
  g4f: Partial<Record<string, string>>
}

/** Where an enabled provider sends prompts, from the configuration. Pure. */
export function destinations(config: EgressConfig, name: string, baseUrl: string | undefined): Array<{ url: string; why: string }> {
  if (name === 'local') return []
  if (name === 'ollama') {
    const { localBaseUrl, remoteBaseUrl } = config.ollama
    const list = [{ url: localBaseUrl, why: 'ollama: installed models' }]
    if (remoteBaseUrl) list.push({ url: remoteBaseUrl, why: 'ollama remote backup: models not installed locally; OLLAMA_REMOTE_BASE_URL= (empty) turns it off' })
    return list
  }
  if (name === 'g4f') return Object.entries(config.g4f).filter(([, url]) => url).map(([endpoint, url]) => ({ url: url as string, why: `g4f (${endpoint})` }))
  return baseUrl ? [{ url: baseUrl, why: name }] : []
}

/** The hosts outside this machine's network that prompts may reach, each with why. Pure. */
export function egressHosts(config: EgressConfig, providers: Array<{ name: string; baseUrl: string | undefined }>): EgressHost[] {
  const hosts = new Map<string, string[]>()
  for (const provider of providers) {
    for (const target of destinations(config, provider.name, provider.baseUrl)) {
      const host = hostOf(target.url)
      if (!host || isLocalHost(host)) continue
      hosts.set(host, [...(hosts.get(host) ?? []), target.why])
    }
  }
  return [...hosts].map(([host, why]) => ({ host, why: why.join('; ') }))
}

export function summaryView(app: FastifyInstance, listen: string): SummaryView {
  const entries = app.providers.list()
  const providers = entries.map((entry): SummaryProvider => {
    const status = app.discovery.status(entry.name)
    const discovered = entry.provider.refresh !== undefined
    const local = entry.name === 'local' ? (entry.provider.status?.() as { path?: string | null } | undefined) : undefined
    return {
      name: entry.name,
      tier: entry.tier,
      catchAll: entry.provider.catchAll === true,
      models: entry.provider.models().length,
      reachable: discovered ? status.lastError === null && status.lastRefreshAt !== null : undefined,
      error: status.lastError ?? undefined,
      where: local ? `in-process: ${local.path ?? 'downloading (LOCAL_MODEL_URL)'}` : destinations(app.config, entry.name, entry.settings.baseUrl).map((t) => displayUrl(t.url)).join(', '),
    }
  })
  const egress = egressHosts(app.config, entries.map((entry) => ({ name: entry.name, baseUrl: entry.settings.baseUrl })))
  return { listen, providers, egress }
}

declare module 'fastify' {
  interface FastifyInstance {
    startupSummary(): string
  }
}

/** True when the logger writes to this process's stdout (not a test's captured stream). */
function logsGoToStdout(app: FastifyInstance): boolean {
  const stream = (app.log as unknown as Record<symbol, { fd?: number } | undefined>)[pino.symbols.streamSym]
  return stream?.fd === 1
}

export default fp(async function startupSummary(app: FastifyInstance) {
  const listenUrl = () => {
    const address = app.server.address() as AddressInfo | null
    if (!address) return `http://${app.config.host}:${app.config.port}`
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `http://${host}:${address.port}`
  }
  app.decorate('startupSummary', () => renderSummary(summaryView(app, listenUrl())))
  app.addHook('onListen', async () => {
    const view = summaryView(app, listenUrl())
    app.log.info({
      providers: inTierOrder(view.providers).map(({ name, tier, reachable, models, catchAll, error }) => ({ name, tier, reachable, models, catchAll, error })),
      egress: view.egress,
      canAnswer: canAnswerAnything(view.providers),
    }, canAnswerAnything(view.providers) ? 'start summary' : `start summary: ${firstRunHint()}`)
    if (logsGoToStdout(app)) process.stdout.write(`\n${renderSummary(view)}\n`)
  })
}, { name: 'startup-summary', dependencies: ['registry', 'discovery'] })
