// The chat playground at / in a real browser (headless Chromium), against a gateway with two
// mock upstreams in two tiers: what a person sees when they chat.
import t, { type Test } from 'tap'
import { startTwoTiers } from '../helpers/two-tiers.ts'
import { launchBrowser, openPage, screenshot, waitFor, PHONE } from './browser.ts'

const browser = await launchBrowser(t)

const twoTiers = (t: Test, env: Record<string, string> = {}) =>
  startTwoTiers(t, { env, tier1Models: ['gpt-4o-mini', 'gpt-4o'], tier2Models: ['gpt-4o-mini', 'llama-3.1-8b'], tier2Answer: 'Tier two here.' })

const lastAnswer = '.msg.assistant:last-of-type'

t.test('models are grouped by provider; Enter sends, Shift+Enter adds a line; the answer streams token by token', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  const answer = 'Streaming **works** one token at a time, as the upstream sends it.'
  tier1.script({ content: answer, pieces: 8, gapMs: 120 })
  const { page, problems } = await openPage(t, browser, gw.url)

  const groups = await page.$$eval('#model optgroup', (gs) => gs.map((g) => ({
    provider: (g as HTMLOptGroupElement).label,
    models: Array.from(g.querySelectorAll('option'), (o) => o.value),
  })))
  t.same(groups, [{ provider: 'first', models: ['gpt-4o-mini', 'gpt-4o'] }, { provider: 'second', models: ['llama-3.1-8b'] }])
  t.match(await page.textContent('#model option[value="gpt-4o-mini"]'), /\+1 fallback/)
  await page.selectOption('#model', 'gpt-4o-mini')

  await page.fill('#prompt', 'Hello')
  await page.press('#prompt', 'Shift+Enter')
  await page.type('#prompt', 'there')
  t.equal(await page.inputValue('#prompt'), 'Hello\nthere', 'Shift+Enter adds a line')
  t.equal(tier1.chatRequests().length, 0, 'and sends nothing')

  // Record every text the answer shows while it streams.
  await page.evaluate(() => {
    const seen: string[] = []
    ;(window as any).seenTexts = seen
    new MutationObserver(() => {
      const text = document.querySelector('.msg.assistant .body')?.textContent ?? ''
      if (text && seen.at(-1) !== text) seen.push(text)
    }).observe(document.querySelector('#conversation')!, { subtree: true, childList: true, characterData: true })
  })
  await page.press('#prompt', 'Enter')
  await page.waitForSelector('.msg.assistant[data-state="streaming"]')
  t.equal(await page.isVisible('#stop'), true, 'Stop is offered while the answer streams')
  await page.waitForSelector('.msg.assistant[data-state="done"]')

  const seen: string[] = await page.evaluate(() => (window as any).seenTexts)
  t.ok(seen.length >= 4, `the answer grew in steps (${seen.length} distinct texts)`)
  t.equal((await page.textContent('.msg.assistant .body'))?.trim(), 'Streaming works one token at a time, as the upstream sends it.')
  t.equal(await page.textContent('.msg.assistant .body strong'), 'works', 'Markdown is rendered')
  t.equal(await page.textContent('.msg.user .body'), 'Hello\nthere')
  t.equal(await page.getAttribute('.msg.assistant', 'data-provider'), 'first')
  t.equal(await page.textContent('.msg.assistant .badge.tier'), 'tier 1')
  t.equal(await page.textContent('.msg.assistant .badge.attempts'), '1 attempt')
  t.equal(await page.isVisible('#send'), true)
  t.equal(await page.inputValue('#prompt'), '', 'the box is cleared')

  const sent = tier1.chatRequests()[0].body
  t.same(sent.messages, [{ role: 'user', content: 'Hello\nthere' }])
  t.equal(sent.stream, true)
  t.notOk('session_id' in sent)
  t.same(problems, [], 'no console errors (CSP violations included)')
  await screenshot(page, 'playground-desktop-first-answer')
})

t.test('the provider badge changes when tier 1 fails; the conversation continues, also after a reload', async (t) => {
  const { gw, tier1, tier2 } = await twoTiers(t)
  const { page, problems } = await openPage(t, browser, gw.url)
  const ask = async (text: string, expectAnswers: number) => {
    await page.fill('#prompt', text)
    await page.press('#prompt', 'Enter')
    await page.waitForFunction((n) => document.querySelectorAll('.msg.assistant[data-state="done"]').length === n, expectAnswers)
  }

  tier1.script({ content: 'Paris is the capital of France.' })
  await ask('What is the capital of France?', 1)
  t.equal(await page.getAttribute(lastAnswer, 'data-provider'), 'first')

  tier1.script({ fault: 'status', status: 500 })
  tier2.script({ content: 'About **2.1 million** people.' })
  await ask('How many people live there?', 2)
  t.equal(await page.getAttribute(lastAnswer, 'data-provider'), 'second', 'tier 2 answered')
  t.equal(await page.textContent(`${lastAnswer} .badge.provider`), 'second')
  t.equal(await page.textContent(`${lastAnswer} .badge.tier`), 'tier 2')
  t.match(await page.textContent(`${lastAnswer} .badge.attempts`), /2 attempts · fell back/)
  t.equal(await page.locator('.msg.assistant').first().getAttribute('data-provider'), 'first', 'the first answer keeps its badge')

  tier1.script({ content: 'The Eiffel Tower.' })
  await ask('And its most famous landmark?', 3)
  t.same(tier1.chatRequests().at(-1)!.body.messages, [
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'Paris is the capital of France.' },
    { role: 'user', content: 'How many people live there?' },
    { role: 'assistant', content: 'About **2.1 million** people.' },
    { role: 'user', content: 'And its most famous landmark?' },
  ], 'the upstream receives the whole conversation')
  await screenshot(page, 'playground-desktop-fallback')

  await page.reload()
  await page.waitForSelector('body[data-ready="true"]')
  t.equal(await page.locator('.msg.user').count(), 3, 'a reload shows the session again')
  t.equal(await page.locator('.msg.assistant').count(), 3)
  t.equal(await page.textContent('.msg.assistant:nth-of-type(4) strong'), '2.1 million')

  await page.click('#new-chat')
  t.equal(await page.locator('.msg').count(), 0, 'New chat clears the page')
  tier2.script({ content: 'Fresh start.' })
  tier1.script({ content: 'Fresh start.' })
  await ask('Hi again', 1)
  t.same(tier1.chatRequests().at(-1)!.body.messages, [{ role: 'user', content: 'Hi again' }], 'a new chat sends no old history')
  t.same(problems, [])
})

t.test('Stop aborts the answer mid-stream, frees the upstream, and keeps the turn out of the session', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  tier1.script({ content: 'word '.repeat(60), pieces: 60, gapMs: 100 })
  const { page, problems } = await openPage(t, browser, gw.url)
  await page.fill('#prompt', 'Tell me a long story')
  await page.press('#prompt', 'Enter')
  await page.waitForFunction(() => (document.querySelector('.msg.assistant .body')?.textContent ?? '').includes('word word'))
  await screenshot(page, 'playground-desktop-streaming')
  await page.click('#stop')
  await page.waitForSelector('.msg.assistant[data-state="stopped"]')
  await waitFor(() => tier1.chatRequests()[0]?.aborted === true, 'the upstream request to be aborted')
  await tier1.waitForNoSockets()
  t.pass('the upstream stream was aborted and its socket closed')
  t.match(await page.textContent('.msg.assistant .problem'), /Stopped/)
  t.match(await page.textContent('.msg.user .note'), /Not saved/)
  t.equal(await page.isVisible('#send'), true, 'Send is back')

  const sessionId = await page.textContent('#session-id')
  const stored = await fetch(`${gw.url}/sessions/${sessionId}`)
  t.equal(stored.status, 404, 'the stopped turn was not saved')

  tier1.script({ content: 'Short one.' })
  await page.fill('#prompt', 'A short one then')
  await page.press('#prompt', 'Enter')
  await page.waitForSelector('.msg.assistant[data-state="done"]')
  t.same(tier1.chatRequests().at(-1)!.body.messages, [{ role: 'user', content: 'A short one then' }])
  t.same(problems, [])
})

t.test('untrusted model output stays inert; reasoning is collapsed; code blocks render', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  tier1.script({
    reasoning: 'The user wants an example. Let me think about it.',
    content: [
      'Here you go:',
      '<img src=x onerror="window.pwned = \'img\'">',
      '<script>window.pwned = \'script\'</script>',
      '<a href="javascript:window.pwned=\'link\'">click me</a> and <div onmouseover="window.pwned=\'div\'">hover</div>',
      '```js\nconst answer = 42\n```',
    ].join('\n\n'),
    pieces: 5,
  })
  const { page, problems } = await openPage(t, browser, gw.url)
  await page.fill('#prompt', 'Show me some HTML')
  await page.press('#prompt', 'Enter')
  await page.waitForSelector('.msg.assistant[data-state="done"]')
  // Let the broken image finish loading (and fail), so an onerror would have run by now.
  await page.waitForFunction(() => {
    const img = document.querySelector('.msg.assistant img') as HTMLImageElement | null
    return img !== null && img.complete
  })
  await page.hover('.msg.assistant .body')
  await page.click('.msg.assistant a:has-text("click me")')

  t.equal(await page.evaluate(() => (window as any).pwned), undefined, 'no payload ran')
  t.equal(await page.locator('#conversation [onerror], #conversation [onmouseover]').count(), 0, 'no event-handler attribute in the DOM')
  t.equal(await page.locator('#conversation script').count(), 0, 'no script element')
  t.equal(await page.locator('#conversation a[href^="javascript"]').count(), 0, 'no javascript: link')
  t.equal(await page.textContent('.msg.assistant pre code'), 'const answer = 42\n', 'the code block is rendered')

  const reasoning = page.locator('.msg.assistant details.reasoning')
  t.equal(await reasoning.isVisible(), true, 'reasoning is shown…')
  t.equal(await reasoning.evaluate((d) => (d as HTMLDetailsElement).open), false, '…collapsed')
  t.equal(await page.isVisible('.msg.assistant .reasoning-text'), false)
  await page.click('.msg.assistant details.reasoning summary')
  t.match(await page.textContent('.msg.assistant .reasoning-text'), /Let me think about it/)
  // DOMPurify parses the dirty HTML in an inert DOMParser document, which inherits the page's
  // CSP: Chromium reports the handler it refuses there. That is the payload being stopped, twice.
  const outsideSanitizer = problems.filter((p) => !p.includes('/vendor/purify.es.mjs'))
  t.same(outsideSanitizer, [], 'no console error besides the sanitizer\'s blocked-handler reports')
  await screenshot(page, 'playground-desktop-xss-reasoning')
})

t.test('errors are shown as messages: all providers failing, and a stream that fails after it started', async (t) => {
  // STREAM_RESUME=0: with resume on, tier 2 would continue the broken stream (no error to show).
  const { gw, tier1, tier2 } = await twoTiers(t, { STREAM_RESUME: '0' })
  const { page, problems } = await openPage(t, browser, gw.url)

  tier1.script({ fault: 'status', status: 503 })
  tier2.script({ fault: 'status', status: 503 })
  await page.fill('#prompt', 'Anyone there?')
  await page.press('#prompt', 'Enter')
  await page.waitForSelector('.msg.assistant[data-state="error"]')
  t.match(await page.textContent('.msg.assistant .problem'), /All providers failed for `gpt-4o-mini`/)
  t.equal(await page.locator('.msg.user.unsaved').count(), 1)

  tier1.script({ content: 'This answer will break off', pieces: 4, errorAfter: 3, gapMs: 30 })
  await page.fill('#prompt', 'Try again')
  await page.press('#prompt', 'Enter')
  await page.waitForSelector(`${lastAnswer}[data-state="error"]`)
  t.match(await page.textContent(`${lastAnswer} .problem`), /failed after it had started/)
  const shown = await page.textContent(`${lastAnswer} .body`)
  t.match(shown, /This answer/, 'the partial answer stays visible')
  t.notMatch(shown, /error|\{/, 'the error event is not shown as answer text')
  t.same(problems, [])
  await screenshot(page, 'playground-desktop-errors')
})

t.test('phone width: everything fits and works', async (t) => {
  const { gw, tier1 } = await twoTiers(t)
  tier1.script({ content: 'On a phone too. A code block:\n\n```bash\ncurl -s http://localhost:8080/v1/models | jq ".data[].id"\n```\n\nand a list:\n\n- tiers\n- breakers\n- fallback' })
  const { page, problems } = await openPage(t, browser, gw.url, PHONE)
  await screenshot(page, 'playground-phone-empty')
  await page.fill('#prompt', 'Does this work on a phone?')
  await page.press('#prompt', 'Enter')
  await page.waitForSelector('.msg.assistant[data-state="done"]')
  const width = await page.evaluate(() => document.documentElement.scrollWidth)
  t.ok(width <= PHONE.width, `no sideways scrolling (${width} px)`)
  for (const selector of ['#model', '#new-chat', '#prompt', '#send']) {
    const box = await page.locator(selector).boundingBox()
    t.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `${selector} is on screen`)
  }
  t.same(problems, [])
  await screenshot(page, 'playground-phone-answer')
})

t.test('with gateway keys: the page asks for a key, keeps it in localStorage and sends it', async (t) => {
  const { gw, tier1 } = await twoTiers(t, { GATEWAY_API_KEYS: 'pg-key-123456' })
  const { page, problems } = await openPage(t, browser, gw.url)
  t.equal(await page.evaluate(() => (document.querySelector('#settings') as HTMLDetailsElement).open), true, 'the key field is opened')
  t.match(await page.textContent('#key-needed'), /needs an API key/)
  await screenshot(page, 'playground-desktop-api-key')
  const phone = await openPage(t, browser, gw.url, PHONE)
  t.equal(await phone.page.isVisible('#api-key'), true, 'the key field shows on a phone')
  const box = await phone.page.locator('.settings-panel').boundingBox()
  t.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, 'the key panel fits a phone screen')
  await screenshot(phone.page, 'playground-phone-api-key')
  await page.fill('#api-key', 'pg-key-123456')
  await page.press('#api-key', 'Enter')
  await page.locator('#api-key').blur()
  await page.waitForSelector('#model option[value="gpt-4o"]', { state: 'attached' })
  t.equal(await page.isVisible('#key-needed'), false, 'the request for a key is gone')
  t.equal(await page.evaluate(() => localStorage.getItem('tiergate.apiKey')), 'pg-key-123456')

  tier1.script({ content: 'Authorized.' })
  await page.fill('#prompt', 'hi')
  await page.press('#prompt', 'Enter')
  await page.waitForSelector('.msg.assistant[data-state="done"]')
  t.equal((await page.textContent('.msg.assistant .body'))?.trim(), 'Authorized.')

  await page.reload()
  await page.waitForSelector('body[data-ready="true"]')
  t.equal(await page.inputValue('#api-key'), 'pg-key-123456', 'kept across reloads')
  t.equal(await page.locator('.msg.assistant').count(), 1, 'the session loads with the key')
  t.same(problems, [])
})
