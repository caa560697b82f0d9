// Real headless Chromium (Debian's, via playwright-core): Swagger UI at /docs renders the API
// under its CSP without a single violation, and a page on another origin can (or, when
// CORS_ORIGINS says so, cannot) call the gateway — the browser enforces what the headers say.
import t, { type Test } from 'tap'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, screenshot } from '../browser/browser.ts'
import { startMockServer } from '../mocks/server.ts'
import { startOpenAIMock } from '../mocks/openai.ts'
import { startGateway } from '../helpers/gateway.ts'

async function gateway(t: Test, env: Record<string, string> = {}) {
  const mock = await startOpenAIMock({ models: ['gpt-4o-mini'] })
  const gw = await startGateway({ CUSTOM_PROVIDERS: 'first', FIRST_BASE_URL: mock.baseUrl, ...env })
  t.teardown(async () => { await gw.close(); await mock.close() })
  return gw
}

/** A page whose console errors (CSP violations are console errors) and exceptions are kept. */
async function newPage(t: Test, browser: Browser): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  t.teardown(() => context.close())
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`))
  return { page, problems }
}

t.test('Swagger UI shows the chat completions operation, its example, and the Authorize button', async (t) => {
  const browser = await launchBrowser(t)
  const gw = await gateway(t, { GATEWAY_API_KEYS: 'docs-key-1' })
  const { page, problems } = await newPage(t, browser)
  const response = await page.goto(`${gw.url}/docs`)
  t.equal(response?.status(), 200)
  const chat = page.locator('.opblock-post .opblock-summary-path', { hasText: '/v1/chat/completions' })
  await chat.waitFor()
  t.equal(await chat.count(), 1, 'the POST /v1/chat/completions operation is listed')
  t.equal(await page.locator('.opblock-tag', { hasText: 'OpenAI-compatible' }).count(), 1, 'grouped under its tag')
  t.equal(await page.locator('button.authorize').count(), 1, 'the security schemes give an Authorize button')
  await chat.click()
  const example = page.locator('.opblock-post.is-open .body-param__example, .opblock-post.is-open .microlight').first()
  await example.waitFor()
  t.match(await example.textContent(), /gpt-4o-mini/, 'the request example is shown')
  await screenshot(page, 'docs-swagger-ui')
  t.same(problems, [], 'no console error: nothing blocked by the CSP, no script error')
})

t.test('a page on another origin calls the gateway only when CORS_ORIGINS allows it', async (t) => {
  const browser = await launchBrowser(t)
  const page = (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><title>app</title><p>another origin</p>')
  }
  const allowedSite = await startMockServer(page)
  const otherSite = await startMockServer(page)
  t.teardown(async () => { await allowedSite.close(); await otherSite.close() })
  const gw = await gateway(t, { CORS_ORIGINS: allowedSite.origin, GATEWAY_API_KEYS: 'browser-key-1' })

  // What a browser app using the gateway does: a JSON POST with a bearer key (so a preflight).
  const callGateway = (target: Page) => target.evaluate(async (url) => {
    try {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer browser-key-1', 'x-stainless-lang': 'js' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      })
      const body = await res.json()
      return { status: res.status, provider: res.headers.get('x-tiergate-provider'), content: body.choices[0].message.content }
    } catch (err) {
      return { error: String(err) }
    }
  }, gw.url)

  const allowed = await newPage(t, browser)
  await allowed.page.goto(allowedSite.origin)
  t.same(await callGateway(allowed.page), { status: 200, provider: 'first', content: 'Hello from mock' }, 'allowed origin: the answer and the exposed headers are readable')

  const other = await newPage(t, browser)
  await other.page.goto(otherSite.origin)
  t.match(await callGateway(other.page), { error: /Failed to fetch/ }, 'another origin: the browser blocks it')
  t.ok(other.problems.some((p) => /CORS policy/.test(p)), 'and says it was CORS')
})
