// How messages look in the conversation: the user's text, and each assistant answer as it
// streams (Markdown, sanitized), with its reasoning (collapsed), tool calls, who answered, and
// what went wrong if it did not complete.
import { renderMarkdown } from './markdown.js'
import { el } from './dom.js'

/** Auto-scroll only while the reader is this close to the bottom. */
const STICKY_SCROLL_PX = 80

const conversation = document.querySelector('#conversation')
const empty = document.querySelector('#empty')

export function scrollToEnd(force = false) {
  const c = conversation
  if (force || c.scrollHeight - c.scrollTop - c.clientHeight < STICKY_SCROLL_PX) c.scrollTop = c.scrollHeight
}

export function addUserMessage(text) {
  empty.hidden = true
  const article = el('article', { class: 'msg user' }, el('div', { class: 'body', text }))
  conversation.append(article)
  scrollToEnd(true)
  return article
}

function toolCallsBlock(calls) {
  return el('div', { class: 'tool-calls' }, calls.map((call) =>
    el('div', { class: 'tool-call' }, el('span', { class: 'tool-name', text: `called ${call.function?.name ?? '?'}` }), el('code', { text: call.function?.arguments ?? '' }))))
}

/** Adds copy buttons to code blocks once an answer is final (navigator.clipboard needs https or localhost). */
function addCopyButtons(container) {
  if (!navigator.clipboard) return
  for (const pre of container.querySelectorAll('pre')) {
    const button = el('button', { type: 'button', class: 'copy', text: 'Copy' })
    button.addEventListener('click', async () => {
      await navigator.clipboard.writeText(pre.querySelector('code')?.textContent ?? pre.textContent)
      button.textContent = 'Copied'
    })
    pre.append(button)
  }
}

/** The view of one assistant answer, updated as chunks arrive. */
export class AnswerView {
  constructor() {
    this.content = ''
    this.reasoning = ''
    this.toolCalls = []
    this.pending = false
    this.reasoningText = el('div', { class: 'reasoning-text' })
    this.reasoningBox = el('details', { class: 'reasoning', hidden: true }, el('summary', { text: 'Reasoning' }), this.reasoningText)
    this.body = el('div', { class: 'body markdown' })
    this.tools = el('div', { class: 'tools' })
    this.problem = el('p', { class: 'problem', role: 'alert', hidden: true })
    this.meta = el('footer', { class: 'meta' })
    this.article = el('article', { class: 'msg assistant', 'data-state': 'waiting' },
      this.reasoningBox, this.body, this.tools, this.problem, this.meta)
    this.body.append(el('span', { class: 'typing', 'aria-label': 'waiting for the answer' }, el('i'), el('i'), el('i')))
    conversation.append(this.article)
    scrollToEnd(true)
  }

  set state(value) {
    this.article.dataset.state = value
  }

  /** Who answered, from the x-tiergate-* response headers. */
  showRoute(headers) {
    const provider = headers.get('x-tiergate-provider')
    const tier = headers.get('x-tiergate-tier')
    const attempts = Number(headers.get('x-tiergate-attempts') ?? '0')
    if (!provider) return
    Object.assign(this.article.dataset, { provider, tier, attempts: String(attempts) })
    this.meta.append(
      el('span', { class: 'badge provider', title: 'provider that answered', text: provider }),
      el('span', { class: 'badge tier', text: `tier ${tier}` }),
      el('span', { class: `badge attempts${attempts > 1 ? ' fallback' : ''}`, title: attempts > 1 ? 'earlier providers failed; tiergate fell back' : 'answered at the first attempt', text: attempts > 1 ? `${attempts} attempts · fell back` : '1 attempt' }),
    )
    const requestId = headers.get('x-request-id')
    if (requestId) this.meta.title = `request ${requestId}`
  }

  showModel(model) {
    if (!model || this.article.dataset.model) return
    this.article.dataset.model = model
    this.meta.prepend(el('span', { class: 'model', text: model }))
  }

  showUsage(usage) {
    this.meta.append(el('span', { class: 'usage', text: `${usage.prompt_tokens} → ${usage.completion_tokens} tokens` }))
  }

  addDelta(delta) {
    if (typeof delta.content === 'string') this.content += delta.content
    if (typeof delta.reasoning_content === 'string') this.reasoning += delta.reasoning_content
    for (const fragment of delta.tool_calls ?? []) {
      const call = (this.toolCalls[fragment.index] ??= { function: { name: '', arguments: '' } })
      if (fragment.function?.name) call.function.name = fragment.function.name
      if (fragment.function?.arguments) call.function.arguments += fragment.function.arguments
    }
    this.state = 'streaming'
    // Re-render at most once per frame, however fast tokens arrive.
    if (!this.pending) {
      this.pending = true
      requestAnimationFrame(() => this.render())
    }
  }

  render() {
    this.pending = false
    this.body.innerHTML = renderMarkdown(this.content)
    if (this.reasoning) {
      this.reasoningBox.hidden = false
      this.reasoningText.textContent = this.reasoning
    }
    const calls = this.toolCalls.filter(Boolean)
    this.tools.replaceChildren(...(calls.length ? [toolCallsBlock(calls)] : []))
    scrollToEnd()
  }

  finish(state, problem) {
    this.render()
    this.state = state
    if (state === 'done') addCopyButtons(this.body)
    if (problem) {
      this.problem.hidden = false
      this.problem.textContent = problem
    }
  }
}

export function restoredMessage(message) {
  if (message.role === 'user') {
    const text = typeof message.content === 'string' ? message.content : (message.content ?? []).map((p) => p.text ?? `[${p.type}]`).join('\n')
    addUserMessage(text)
  } else if (message.role === 'assistant') {
    const view = new AnswerView()
    view.content = message.content ?? ''
    view.toolCalls = message.tool_calls ?? []
    view.meta.append(el('span', { class: 'model', text: 'from this session' }))
    view.finish('done')
  } else {
    empty.hidden = true
    conversation.append(el('article', { class: `msg ${message.role === 'tool' ? 'tool' : 'system'}` },
      el('div', { class: 'label', text: message.role }), el('div', { class: 'body', text: typeof message.content === 'string' ? message.content : JSON.stringify(message.content) })))
  }
}
