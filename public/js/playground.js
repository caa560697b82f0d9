// The chat playground: pick a model, chat with streamed answers, see who answered (provider,
// tier, attempts from the x-tiergate-* headers), stop an answer, continue the conversation
// through a server-side session (its id is kept per tab, so a reload continues it).
import { authHeaders, errorFrom, getJson, storeApiKey, storedApiKey } from './api.js'
import { sseData } from './sse.js'
import { AnswerView, addUserMessage, restoredMessage, scrollToEnd } from './messages.js'
import { el } from './dom.js'

const SESSION_STORAGE = 'tiergate.session'
const MODEL_STORAGE = 'tiergate.model'

const $ = (selector) => document.querySelector(selector)
const ui = {
  model: $('#model'),
  apiKey: $('#api-key'),
  settings: $('#settings'),
  keyNeeded: $('#key-needed'),
  newChat: $('#new-chat'),
  notice: $('#notice'),
  conversation: $('#conversation'),
  empty: $('#empty'),
  composer: $('#composer'),
  prompt: $('#prompt'),
  send: $('#send'),
  stop: $('#stop'),
  session: $('#session-id'),
}

let inFlight // the AbortController of the answer being streamed

// ---------------------------------------------------------------- session id (per tab)

function newSessionId() {
  // getRandomValues works on plain http too (randomUUID needs a secure context).
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return `pg-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`
}

function sessionId() {
  let id = sessionStorage.getItem(SESSION_STORAGE)
  if (!id) {
    id = newSessionId()
    sessionStorage.setItem(SESSION_STORAGE, id)
  }
  ui.session.textContent = id
  return id
}

// ---------------------------------------------------------------- page-level notices

function notice(message, kind = 'error') {
  ui.notice.replaceChildren()
  ui.notice.hidden = !message
  if (message) ui.notice.append(el('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', text: message }))
}

function askForKey() {
  ui.keyNeeded.hidden = false
  ui.settings.open = true
  ui.apiKey.focus()
}

// ---------------------------------------------------------------- models

async function loadModels() {
  let models
  try {
    models = (await getJson('/v1/models')).data
  } catch (err) {
    ui.model.replaceChildren(el('option', { value: '', text: 'models unavailable' }))
    if (err.status === 401) {
      askForKey()
    } else {
      notice(`Could not load the models: ${err.message}`)
    }
    return
  }
  notice('')
  if (!ui.keyNeeded.hidden) {
    ui.keyNeeded.hidden = true
    ui.settings.open = false
  }
  if (models.length === 0) {
    ui.model.replaceChildren(el('option', { value: '', text: 'no models' }))
    // Say the same as /health/ready and the status page: how many are enabled, none serving.
    const ready = await fetch('/health/ready').then((r) => r.json(), () => undefined)
    const enabled = ready?.providers?.enabled ?? 0
    const what = enabled === 0 ? 'No provider is enabled.' : `${enabled} provider${enabled === 1 ? ' is' : 's are'} enabled, but none can serve a model yet (see the status page).`
    notice(`${what} Set a provider key in .env (for example GROQ_API_KEY), start Ollama, or point LOCAL_MODEL_PATH at a .gguf file, then restart tiergate.`, 'info')
    return
  }
  // One group per provider (the first that serves the model); models served by several
  // providers say so, since they can fall back between them.
  const byProvider = new Map()
  for (const model of models) {
    const group = byProvider.get(model.owned_by) ?? []
    group.push(model)
    byProvider.set(model.owned_by, group)
  }
  const wanted = localStorage.getItem(MODEL_STORAGE)
  ui.model.replaceChildren(...[...byProvider].map(([provider, group]) =>
    el('optgroup', { label: provider }, group.map((model) => el('option', {
      value: model.id,
      title: `served by ${model.providers.join(', ')}`,
      selected: model.id === wanted,
      text: model.providers.length > 1 ? `${model.id} (+${model.providers.length - 1} fallback)` : model.id,
    })))))
}

// ---------------------------------------------------------------- sessions

async function restoreSession() {
  const id = sessionId()
  const response = await fetch(`/sessions/${encodeURIComponent(id)}`, { headers: authHeaders() })
  if (response.status === 404) return // a new conversation: created by its first answer
  if (response.status === 401) return // loadModels() has asked for the key already
  if (!response.ok) return notice(`Could not load the conversation: ${(await errorFrom(response)).message}`)
  const { messages } = await response.json()
  for (const message of messages) restoredMessage(message)
  scrollToEnd(true)
}

function newChat() {
  inFlight?.abort()
  sessionStorage.setItem(SESSION_STORAGE, newSessionId())
  sessionId()
  ui.conversation.querySelectorAll('.msg').forEach((m) => m.remove())
  ui.empty.hidden = false
  ui.prompt.focus()
}

// ---------------------------------------------------------------- sending

function setBusy(busy) {
  ui.send.hidden = busy
  ui.stop.hidden = !busy
  ui.composer.classList.toggle('busy', busy)
}

async function send(text) {
  const model = ui.model.value
  if (!model) return notice('Pick a model first (none is loaded).')
  localStorage.setItem(MODEL_STORAGE, model)
  notice('')
  const question = addUserMessage(text)
  const answer = new AnswerView()
  const controller = new AbortController()
  inFlight = controller
  setBusy(true)
  let finished = false
  try {
    const response = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders() },
      body: JSON.stringify({ model, stream: true, stream_options: { include_usage: true }, session_id: sessionId(), messages: [{ role: 'user', content: text }] }),
      signal: controller.signal,
    })
    answer.showRoute(response.headers)
    if (!response.ok) throw await errorFrom(response)
    for await (const data of sseData(response)) {
      if (data === '[DONE]') {
        finished = true
        break
      }
      const event = JSON.parse(data)
      // A failure after the answer started: an error event, never a clean-looking end.
      if (event.error) throw new Error(event.error.message ?? 'The stream failed.')
      answer.showModel(event.model)
      const delta = event.choices?.[0]?.delta
      if (delta) answer.addDelta(delta)
      if (event.usage) answer.showUsage(event.usage)
    }
    if (!finished) throw new Error('The connection ended before the answer was complete.')
    answer.finish('done')
  } catch (err) {
    const stopped = controller.signal.aborted
    answer.finish(stopped ? 'stopped' : 'error', stopped ? 'Stopped.' : err.message)
    // The gateway saves a turn only when its answer completed: show that this one was not kept.
    question.classList.add('unsaved')
    question.append(el('p', { class: 'note', text: 'Not saved in the conversation; the next message continues from the last complete answer.' }))
    if (!stopped && err.status === 401) askForKey()
  } finally {
    if (inFlight === controller) {
      inFlight = undefined
      setBusy(false)
    }
  }
}

// ---------------------------------------------------------------- wiring

function autoGrow() {
  ui.prompt.style.height = 'auto'
  ui.prompt.style.height = `${ui.prompt.scrollHeight}px`
}

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = ui.prompt.value.trim()
  if (!text || inFlight) return
  ui.prompt.value = ''
  autoGrow()
  void send(text)
})
ui.prompt.addEventListener('keydown', (event) => {
  // Enter sends; Shift+Enter is a new line; an IME composition's Enter is the IME's.
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    ui.composer.requestSubmit()
  }
})
ui.prompt.addEventListener('input', autoGrow)
// On a narrow screen the full hint would wrap the empty box onto two lines.
if (matchMedia('(max-width: 600px)').matches) ui.prompt.placeholder = 'Message'
ui.stop.addEventListener('click', () => inFlight?.abort())
ui.newChat.addEventListener('click', newChat)
ui.apiKey.value = storedApiKey()
ui.apiKey.addEventListener('change', async () => {
  storeApiKey(ui.apiKey.value)
  await loadModels()
  if (!ui.conversation.querySelector('.msg')) await restoreSession()
})

await loadModels()
await restoreSession().catch((err) => notice(`Could not load the conversation: ${err.message}`))
if (ui.keyNeeded.hidden) ui.prompt.focus()
document.body.dataset.ready = 'true'
