// Headless Debian Chromium (apt package `chromium`, never a downloaded browser) driven by
// playwright-core, for the pages' real-browser tests. Each page records console errors and
// uncaught exceptions (a CSP violation is a console error), and can save screenshots under
// test-output/ for a person to look at.
import type { Test } from 'tap'
import { mkdir } from 'node:fs/promises'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM_PATH = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
export const OUTPUT_DIR = new URL('../../test-output/', import.meta.url)

export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 375, height: 740 }

export async function launchBrowser(t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS })
  t.teardown(() => browser.close())
  return browser
}

export interface OpenedPage {
  page: Page
  /** Console errors and uncaught exceptions seen so far. */
  problems: string[]
}

export async function openPage(t: Test, browser: Browser, url: string, viewport = DESKTOP): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: 'light' })
  t.teardown(() => context.close())
  const page = await context.newPage()
  // Generous: a loaded 2-core CI machine can take seconds to render; a real hang still fails.
  page.setDefaultTimeout(30_000)
  const problems: string[] = []
  page.on('console', (message) => {
    // A 4xx/5xx the page handles itself still logs "Failed to load resource"; that is not a fault of the page.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`${message.text()} @ ${message.location().url}`)
  })
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`))
  await page.goto(url)
  await page.waitForSelector('body[data-ready="true"]')
  return { page, problems }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(OUTPUT_DIR, { recursive: true })
  await page.screenshot({ path: new URL(`${name}.png`, OUTPUT_DIR).pathname, fullPage: false })
}

export { waitFor } from '../helpers/wait.ts'
