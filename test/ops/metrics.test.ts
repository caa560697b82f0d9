// GET /metrics after real traffic through mock upstreams (answers, a stream, a mid-stream cut,
// a fallback, a breaker opening, a total failure, a rate-limited client): the values an operator
// reads, Prometheus' own linter on the exposition, and every metric and label the shipped
// dashboard and alerts use exists in this live scrape.
import t, { type Test } from 'tap'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import YAML from 'yaml'
import { startGateway, postJson, sseData } from '../helpers/gateway.ts'
import { startTwoTiers } from '../helpers/two-tiers.ts'

const run = promisify(execFile)
const ROOT = new URL('../../', import.meta.url)
const WORKER = 'worker-key-0001'
const SPENDER = 'spender-key-0002'

interface Sample { name: string; labels: Record<string, string>; value: number }

function parseExposition(text: string): Sample[] {
  return text.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match) throw new Error(`not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name] = value
    return { name: match[1], labels, value: Number(match[3]) }
  })
}

/** Scrape once, after driving traffic; shared by the subtests below. */
async function liveScrape(t: Test) {
  const { gw, tier1, tier2 } = await startTwoTiers(t, {
    env: {
      BREAKER_VOLUME_THRESHOLD: '1', BREAKER_ERROR_THRESHOLD_PERCENTAGE: '20', BREAKER_RESET_TIMEOUT_MS: '600000',
      GATEWAY_API_KEYS: `${WORKER},${SPENDER}`, RATE_LIMIT_MAX: '20',
      STREAM_RESUME: '0', // the cut below ends its stream (resume is counted in tiergate_stream_resumes_total)
    },
    apiKey: WORKER,
  })
  const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] }
  const auth = { authorization: `Bearer ${WORKER}` }

  await gw.client.chat.completions.create(chat) // tier 1 answers (usage 13 + 5)
  const stream = await gw.client.chat.completions.create({ ...chat, stream: true, stream_options: { include_usage: true } })
  for await (const _ of stream) { /* tier 1 streams to the end (usage 7 + 4) */ }
  tier1.script({ content: 'abcdefghij', pieces: 5, cutAfter: 3 })
  const cut = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ ...chat, stream: true }) })
  t.not((await sseData(cut)).at(-1), '[DONE]', 'the cut stream ended with an error')
  // The mid-stream cut counted against first's breaker for this model, which opened: 1 → 2.
  const fellBack = await postJson(`${gw.url}/v1/chat/completions`, chat, auth)
  t.equal(fellBack.headers.get('x-tiergate-provider'), 'second')
  const skipped = await postJson(`${gw.url}/v1/chat/completions`, chat, auth) // first is skipped: 1 → 2 again
  t.equal(skipped.headers.get('x-tiergate-provider'), 'second')
  tier2.script({ fault: 'status', status: 502 })
  t.equal((await postJson(`${gw.url}/v1/chat/completions`, chat, auth)).status, 503, 'every candidate failed')
  for (let i = 0; i <= 20; i++) await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${SPENDER}` } })

  const res = await fetch(`${gw.url}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  return { gw, text, samples: parseExposition(text) }
}

const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0)

t.test('metrics after real traffic', async (t) => {
  const { gw, text, samples } = await liveScrape(t)
  const v = (name: string, labels: Record<string, string> = {}) => value(samples, name, labels)

  t.test('values an operator reads', async (t) => {
    t.equal(v('tiergate_fallbacks_total', { from_tier: '1', to_tier: '2' }), 2, 'two answers came from tier 2 instead of tier 1')
    t.equal(v('tiergate_breaker_state', { provider: 'first', tier: '1' }), 2, 'first: open')
    t.equal(v('tiergate_breaker_transitions_total', { provider: 'first', state: 'open' }), 1)
    t.equal(v('tiergate_upstream_attempts_total', { provider: 'first', tier: '1', outcome: 'success' }), 3)
    t.equal(v('tiergate_upstream_attempts_total', { provider: 'first', tier: '1', outcome: 'server' }), 0, 'first was skipped once its breaker opened on the cut')
    t.equal(v('tiergate_upstream_attempts_total', { provider: 'second', tier: '2', outcome: 'success' }), 2)
    t.equal(v('tiergate_upstream_attempts_total', { provider: 'second', tier: '2', outcome: 'server' }), 1)
    t.equal(v('tiergate_routed_requests_total', { operation: 'chat', outcome: 'success', tier: '1' }), 3)
    t.equal(v('tiergate_routed_requests_total', { operation: 'chat', outcome: 'success', tier: '2' }), 2)
    t.equal(v('tiergate_routed_requests_total', { operation: 'chat', outcome: 'failed', tier: 'none' }), 1)
    t.equal(v('tiergate_tokens_total', { provider: 'first', kind: 'prompt' }), 13 + 7)
    t.equal(v('tiergate_tokens_total', { provider: 'first', kind: 'completion' }), 5 + 4)
    t.equal(v('tiergate_tokens_total', { provider: 'second', kind: 'prompt' }), 2 * 13)
    t.equal(v('tiergate_streams_total', { provider: 'first', outcome: 'complete' }), 1)
    t.equal(v('tiergate_streams_total', { provider: 'first', outcome: 'failed' }), 1, 'the mid-stream cut')
    t.equal(v('tiergate_upstream_first_byte_seconds_count', { provider: 'first', tier: '1' }), 3)
    t.equal(v('tiergate_upstream_duration_seconds_count', { provider: 'first', tier: '1' }), 2, 'a JSON answer and a complete stream')
    t.equal(v('tiergate_upstream_duration_seconds_bucket', { provider: 'first', le: '+Inf' }), 2)
    t.equal(v('tiergate_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '200' }), 5)
    t.equal(v('tiergate_http_requests_total', { route: '/v1/chat/completions', method: 'POST', status: '503' }), 1)
    t.equal(v('tiergate_http_requests_total', { route: '/v1/models', method: 'GET', status: '429' }), 1)
    t.equal(v('tiergate_rate_limited_requests_total', { route: '/v1/models' }), 1)
    t.equal(v('tiergate_provider_models', { provider: 'first' }), 1)
    t.ok(v('process_cpu_seconds_total') > 0, 'process metrics are there')
    t.ok(samples.every((s) => s.name.startsWith('tiergate_') || s.name.startsWith('process_') || s.name.startsWith('nodejs_')), 'nothing unprefixed but the standard process/nodejs families')
    // Each app has its own registry: a second gateway in this process starts from zero.
    const other = await startGateway({})
    t.teardown(() => other.close())
    const otherSamples = parseExposition(await (await fetch(`${other.url}/metrics`)).text())
    t.equal(value(otherSamples, 'tiergate_fallbacks_total', {}), 0)
    t.equal(value(otherSamples, 'tiergate_http_requests_total', {}), 0)
    t.equal((await fetch(`${gw.url}/metrics`)).status, 200, 'still scrapeable')
  })

  t.test('promtool check metrics finds nothing to lint in tiergate_* families', async (t) => {
    // prom-client's own default gauges (nodejs_active_handles_total, …) break a naming lint
    // rule upstream; ours are checked.
    const families = text.split('\n').reduce<string[][]>((acc, line) => {
      if (line.startsWith('# HELP ')) acc.push([])
      acc.at(-1)?.push(line)
      return acc
    }, []).filter((lines) => lines[0].startsWith('# HELP tiergate_'))
    t.ok(families.length >= 12, `${families.length} tiergate families`)
    const child = execFile('promtool', ['check', 'metrics'])
    child.stdin!.end(families.map((lines) => lines.join('\n')).join('\n') + '\n')
    let output = ''
    child.stdout!.on('data', (d) => { output += d })
    child.stderr!.on('data', (d) => { output += d })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    t.equal(output.trim(), '', 'no lint findings')
    t.equal(code, 0)
  })

  t.test('every metric and label used by the dashboard and the alerts exists in the scrape', async (t) => {
    const dashboard = JSON.parse(await readFile(new URL('deploy/grafana/tiergate.json', ROOT), 'utf8'))
    const alerts = YAML.parse(await readFile(new URL('deploy/prometheus/alerts.yml', ROOT), 'utf8'))
    const panels = dashboard.panels.flatMap((p: any) => [p, ...(p.panels ?? [])])
    const queries: Array<{ where: string; expr: string }> = [
      ...panels.flatMap((p: any) => (p.targets ?? []).map((target: any) => ({ where: `panel "${p.title}"`, expr: target.expr }))),
      ...dashboard.templating.list.filter((v: any) => v.type === 'query').map((v: any) => ({ where: `variable $${v.name}`, expr: v.definition })),
      ...alerts.groups.flatMap((g: any) => g.rules.map((r: any) => ({ where: `alert ${r.alert}`, expr: r.expr }))),
    ]
    t.ok(queries.length > 30, `${queries.length} queries`)
    const names = new Set(samples.map((s) => s.name))
    const labelsOf = (metric: string) => new Set(samples.filter((s) => s.name === metric).flatMap((s) => Object.keys(s.labels)))
    // Added by Prometheus when it scrapes, never in the exposition itself.
    const scrapeLabels = new Set(['job', 'instance'])
    for (const { where, expr } of queries) {
      const metrics = [...new Set(expr.match(/\b(?:tiergate|process|nodejs)_\w+/g) ?? [])]
      t.ok(metrics.length > 0, `${where} queries a gateway metric`)
      for (const metric of metrics) t.ok(names.has(metric), `${where}: ${metric} is exported`)
      const used = [
        ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1].matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1])),
        ...[...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((l) => l.trim()).filter(Boolean)),
        ...[...expr.matchAll(/label_values\([^,]+,\s*(\w+)\)/g)].map((m) => m[1]),
      ]
      for (const label of new Set(used)) {
        if (scrapeLabels.has(label)) continue
        t.ok(metrics.some((metric) => labelsOf(metric).has(label)), `${where}: label ${label} is on ${metrics.join(' / ')}`)
      }
    }
  })

  t.test('every dashboard query is valid PromQL (promtool parses it)', async (t) => {
    const dashboard = JSON.parse(await readFile(new URL('deploy/grafana/tiergate.json', ROOT), 'utf8'))
    const exprs: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((target: any) => target.expr))
    // Grafana's variables, as Grafana would substitute them.
    const substituted = exprs.map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*').replaceAll('$provider', '.*'))
    const dir = await mkdtemp(path.join(tmpdir(), 'tiergate-dashboard-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const file = path.join(dir, 'dashboard-queries.yml')
    await writeFile(file, YAML.stringify({ groups: [{ name: 'dashboard', rules: substituted.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] }))
    const { stdout } = await run('promtool', ['check', 'rules', file])
    t.match(stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`))
  })
})
