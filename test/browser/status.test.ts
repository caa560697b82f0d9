// The status page at /status in a real browser: providers with their breaker state, refreshed
// on its own while tier 1 fails and its breaker opens; fallback counts; the stored API key.
import t, { type Test } from 'tap'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'
import { startScriptedUpstream } from '../mocks/scripted-stream.ts'
import { launchBrowser, openPage, screenshot, PHONE } from './browser.ts'

const browser = await launchBrowser(t)

async function twoTiers(t: Test, env: Record<string, string> = {}) {
  const tier1 = await startOpenAIMock({ models: ['gpt-4o-mini', 'gpt-4o'] })
  const tier2 = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'first,second',
    FIRST_BASE_URL: tier1.baseUrl, PROVIDER_PRIORITY_FIRST: '1',
    SECOND_BASE_URL: tier2.baseUrl, PROVIDER_PRIORITY_SECOND: '2',
    BREAKER_VOLUME_THRESHOLD: '2',
    ...env,
  })
  t.teardown(async () => { await gw.close(); await tier1.close(); await tier2.close() })
  return { gw, tier1, tier2 }
}

const row = (name: string) => `#providers tr[data-provider="${name}"]`

t.test('the page shows an open breaker after tier-1 failures, without a reload', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  const { page, problems } = await openPage(t, browser, `${gw.url}/status`)
  t.equal(await page.getAttribute(row('first'), 'data-breaker'), 'closed')
  t.equal(await page.textContent(`${row('first')} .tier`), '1')
  t.equal(await page.textContent(`${row('second')} .tier`), '2')
  t.match(await page.textContent(`${row('first')} td[data-label="Catalog"]`), /2 models/)
  t.equal(await page.textContent('#fallback-total'), '0')

  // Tier 1 fails every time; each request still gets its answer from tier 2.
  tier1.fallback = { fault: 'status', status: 500 }
  let fallbacks = 0
  for (let i = 0; i < 10; i++) {
    const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `try ${i}` }] })
    t.equal(res.headers.get('x-tiergate-provider'), 'second')
    if (res.headers.get('x-tiergate-attempts') !== '1') fallbacks++
    const status = await (await fetch(`${gw.url}/providers`)).json() as any
    if (status.providers.find((p: any) => p.name === 'first').breaker.state === 'open') break
  }

  await page.waitForSelector(`${row('first')}[data-breaker="open"]`)
  t.equal(await page.textContent(`${row('first')} .breaker`), 'open')
  t.equal(await page.textContent(`${row('second')} .breaker`), 'closed')
  t.match(await page.textContent(`${row('first')} td[data-label="Last error"]`), /HTTP 500/)
  t.match(await page.textContent(`${row('first')} td[data-label="Error rate"]`), /[1-9]\d* %/)
  t.match(await page.textContent(`${row('second')} td[data-label="Latency"]`), /\d+ ms/)
  t.equal(await page.textContent(`${row('first')} .model-breakers [data-model="gpt-4o-mini"]`), 'gpt-4o-mini: open', 'the breaker of the model that failed, by name')
  t.equal(await page.locator(`${row('first')} [data-model="gpt-4o"]`).count(), 0, 'a model that did not fail has no open breaker to show')
  t.equal(await page.textContent('#open-count'), '1')
  t.equal(await page.textContent('#fallback-total'), String(fallbacks))
  t.match(await page.textContent('#fallback-tiers'), new RegExp(`tier 1 → 2: ${fallbacks}`))
  t.same(problems, [])
  await screenshot(page, 'status-desktop-breaker-open')

  const phone = await openPage(t, browser, `${gw.url}/status`, PHONE)
  const width = await phone.page.evaluate(() => document.documentElement.scrollWidth)
  t.ok(width <= PHONE.width, `no sideways scrolling on a phone (${width} px)`)
  t.equal(await phone.page.getAttribute(row('first'), 'data-breaker'), 'open')
  t.same(phone.problems, [])
  await screenshot(phone.page, 'status-phone-breaker-open')
})

t.test('with gateway keys the page uses the key stored by the playground', async (t) => {
  const { gw } = await twoTiers(t, { GATEWAY_API_KEYS: 'status-key-98765' })
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const page = await context.newPage()
  await page.goto(`${gw.url}/status`)
  await page.waitForSelector('#notice .notice')
  t.match(await page.textContent('#notice'), /Missing or invalid API key/)
  t.equal(await page.getAttribute('#notice a', 'href'), '/', 'it points to where the key is set')

  // Set in the playground, read by the status page on its next refresh.
  await page.evaluate(() => localStorage.setItem('tiergate.apiKey', 'status-key-98765'))
  await page.waitForSelector(row('first'), { timeout: 30_000 })
  t.equal(await page.isVisible('#notice'), false)
  t.equal(await page.locator('#providers tbody tr').count(), 2)
})

t.test('a stream cut mid-answer and finished by tier 2 is counted as resumed', async (t) => {
  const reference = { text: 'Paris is the capital of France. It lies on the Seine.' }
  const first = await startScriptedUpstream({ wire: 'openai', reference })
  const second = await startScriptedUpstream({ wire: 'openai', reference })
  const gw = await startGateway({
    CUSTOM_PROVIDERS: 'first,second',
    FIRST_BASE_URL: first.baseUrl, FIRST_MODELS: 'm', PROVIDER_PRIORITY_FIRST: '1',
    SECOND_BASE_URL: second.baseUrl, SECOND_MODELS: 'm', PROVIDER_PRIORITY_SECOND: '2',
  })
  t.teardown(async () => { await gw.close(); await first.close(); await second.close() })
  const { page, problems } = await openPage(t, browser, `${gw.url}/status`)
  t.equal(await page.textContent('#resume-count'), '0')
  first.script({ cut: 4 })
  const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'Tell me about Paris.' }] }) })
  t.ok((await res.text()).endsWith('data: [DONE]\n\n'), 'the client got one complete answer')
  await page.waitForFunction(() => document.querySelector('#resume-count')?.textContent === '1')
  t.match(await page.evaluate(() => document.querySelector('#resume-count')!.parentElement!.title), /first\/m → second\/m/, 'the last resume, from and to')
  t.same(problems, [])
})
