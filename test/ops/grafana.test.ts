// The Grafana dashboard and its provisioning fit together (no Grafana here to load them, so
// what Grafana would reject or render wrong is checked directly). Its queries are checked
// against a live scrape and by promtool in metrics.test.ts.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import YAML from 'yaml'

const ROOT = new URL('../../', import.meta.url)
const read = async (file: string) => readFile(new URL(file, ROOT), 'utf8')

t.test('the dashboard: identity, data source, panels on the 24-column grid without overlap', async (t) => {
  const dashboard = JSON.parse(await read('deploy/grafana/tiergate.json'))
  t.equal(dashboard.uid, 'tiergate')
  t.equal(dashboard.title, 'tiergate')
  t.equal(dashboard.id, undefined, 'no database id: provisioning assigns one')
  const variables = Object.fromEntries(dashboard.templating.list.map((v: any) => [v.name, v]))
  t.match(variables.datasource, { type: 'datasource', query: 'prometheus' })
  const occupied = new Set<string>()
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos
    t.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0, `"${panel.title}" fits the grid`)
    const overlaps: string[] = []
    for (let col = x; col < x + w; col++) {
      for (let row = y; row < y + h; row++) {
        const cell = `${col},${row}`
        if (occupied.has(cell)) overlaps.push(cell)
        occupied.add(cell)
      }
    }
    t.same(overlaps, [], `"${panel.title}" overlaps no other panel`)
    if (panel.type === 'row') continue
    t.same(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, `"${panel.title}" uses the data source variable`)
    t.ok(panel.description, `"${panel.title}" says what it shows`)
    const refIds = panel.targets.map((target: any) => target.refId)
    t.equal(new Set(refIds).size, refIds.length, `"${panel.title}" has distinct query refIds`)
  }
  t.equal(new Set(dashboard.panels.map((p: any) => p.id)).size, dashboard.panels.length, 'panel ids are unique')
})

t.test('provisioning: the data source uid and the dashboards folder match the dashboard and compose', async (t) => {
  const datasources = YAML.parse(await read('deploy/grafana/provisioning/datasources/prometheus.yml'))
  const dashboard = JSON.parse(await read('deploy/grafana/tiergate.json'))
  const source = datasources.datasources[0]
  t.match(source, { type: 'prometheus', uid: 'prometheus', url: 'http://prometheus:9090' })
  t.equal(dashboard.templating.list.find((v: any) => v.name === 'datasource').current.value, source.uid, 'the default data source is the provisioned one')
  const providers = YAML.parse(await read('deploy/grafana/provisioning/dashboards/tiergate.yml'))
  const compose = YAML.parse(await read('docker-compose.yml'))
  const mounts: string[] = compose.services.grafana.volumes
  t.ok(mounts.some((m) => m.startsWith('./deploy/grafana/tiergate.json:') && m.includes(`${providers.providers[0].options.path}/`)), 'compose mounts the dashboard where the provider looks')
  t.ok(mounts.some((m) => m.startsWith('./deploy/grafana/provisioning:/etc/grafana/provisioning')), 'compose mounts the provisioning files')
})
