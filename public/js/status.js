// The status page: every enabled provider from GET /providers (tier, breaker, live score,
// catalog and whether it is serving, recent latency and error rate, keys, last error or
// failed discovery) and the fallback counts since
// start, refreshed every few seconds. Uses the API key stored by the playground.
import { getJson } from './api.js'
import { el } from './dom.js'

const REFRESH_MS = 3000

const $ = (selector) => document.querySelector(selector)
const rows = $('#providers tbody')

const BREAKER_LABEL = { closed: 'closed', half_open: 'half open', open: 'open' }

const dash = (value, format = String) => (value === null || value === undefined ? '–' : format(value))

function keysSummary(keys) {
  if (keys.length === 0) return 'none needed'
  const available = keys.filter((k) => k.state === 'available').length
  return available === keys.length ? `${keys.length} ok` : `${available}/${keys.length} ok`
}

/** Models whose own breaker is not closed (a model's faults never take the others down). */
function modelBreakers(p) {
  const troubled = (p.breaker.models ?? []).filter((m) => m.state !== 'closed')
  if (troubled.length === 0) return null
  return el('ul', { class: 'model-breakers', 'aria-label': 'breakers per model' },
    ...troubled.map((m) => el('li', { class: `breaker ${m.state}`, 'data-model': m.model, text: `${m.model}: ${BREAKER_LABEL[m.state] ?? m.state}` })))
}

function cell(label, ...children) {
  // data-label titles each cell when the table collapses into cards on a narrow screen.
  return el('td', { 'data-label': label }, ...children)
}

function providerRow(p) {
  const state = p.breaker.state
  const health = p.health ?? {}
  // A request's last failure, else a failed catalog discovery (unreachable at start, …).
  const discoveryError = p.discovery?.lastError
  const lastError = health.lastError ?? (discoveryError ? { at: `discovery, retrying${p.discovery.nextAt ? ` at ${p.discovery.nextAt}` : ''}`, message: `discovery: ${discoveryError}` } : null)
  return el('tr', { 'data-provider': p.name, 'data-breaker': state, 'data-serving': String(p.serving !== false) },
    el('th', { scope: 'row', class: 'name', text: p.name }),
    cell('Tier', el('span', { class: 'tier', text: String(p.tier) })),
    cell('Breaker', el('span', { class: `breaker ${state}`, text: BREAKER_LABEL[state] ?? state }), modelBreakers(p)),
    cell('Live', dash(p.live)),
    cell('Catalog', p.catchAll ? 'any model' : `${p.catalogSize} model${p.catalogSize === 1 ? '' : 's'}`, p.serving === false ? el('span', { class: 'not-serving', text: ' · not serving' }) : null),
    cell('Latency', dash(health.latencyMs, (ms) => `${ms} ms`)),
    cell('Error rate', el('span', { class: `rate${health.errorRate >= 0.5 ? ' bad' : health.errorRate >= 0.1 ? ' warn' : ''}`, text: dash(health.errorRate, (r) => `${Math.round(r * 100)} %`) })),
    cell('Calls', el('span', { title: 'successes / failures', text: `${health.successes ?? 0} ✓ / ${health.failures ?? 0} ✗` })),
    cell('Keys', keysSummary(p.keys ?? [])),
    cell('Last error', lastError
      ? el('span', { class: 'last-error', title: `${lastError.at}\n${lastError.message}`, text: lastError.message })
      : '–'),
  )
}

function notice(message, withLink = false) {
  const box = $('#notice')
  box.hidden = !message
  box.replaceChildren()
  if (message) {
    box.append(el('p', { class: 'notice error', role: 'alert' }, message, withLink ? el('a', { href: '/', text: ' Set the API key in the playground.' }) : null))
  }
}

function render({ providers, fallbacks, resumes }) {
  rows.replaceChildren(...providers.map(providerRow))
  if (providers.length === 0) rows.append(el('tr', {}, el('td', { colspan: '10', class: 'none', text: 'No provider is enabled.' })))
  $('#fallback-total').textContent = String(fallbacks.total)
  if (resumes) {
    $('#resume-count').textContent = String(resumes.resumed)
    $('#resume-count').parentElement.title = resumes.last
      ? `last: ${resumes.last.from} → ${resumes.last.to ?? 'nobody'} (${resumes.last.strategy ?? '–'}, ${resumes.last.outcome}) at ${resumes.last.at}; could not be continued: ${resumes.failed}`
      : 'no stream has needed a resume'
  }
  $('#provider-count').textContent = String(providers.length)
  // The same count as /health/ready's `serving`.
  $('#serving-count').textContent = String(providers.filter((p) => p.serving !== false).length)
  const open = providers.filter((p) => p.breaker.state === 'open').length
  $('#open-count').textContent = String(open)
  $('#open-count').parentElement.classList.toggle('alarm', open > 0)
  $('#fallback-tiers').replaceChildren(...Object.entries(fallbacks.byTier)
    .map(([route, count]) => el('li', { class: 'chip', text: `tier ${route.replace('->', ' → ')}: ${count}` })))
}

async function refresh() {
  try {
    render(await getJson('/providers'))
    notice('')
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString()}`
    document.body.dataset.ready = 'true'
  } catch (err) {
    notice(`Could not load /providers: ${err.message}`, err.status === 401)
    $('#updated').textContent = 'not updating'
  } finally {
    setTimeout(refresh, REFRESH_MS)
  }
}

await refresh()
