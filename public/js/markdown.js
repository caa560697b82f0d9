// Model output is untrusted: Markdown → HTML by marked, then DOMPurify removes anything that
// could run (event-handler attributes, <script>, javascript: URLs, …) before it reaches the DOM.
import { Marked } from '/vendor/marked.esm.js'
import DOMPurify from '/vendor/purify.es.mjs'

const marked = new Marked({ gfm: true, breaks: true })

// Links open in a new tab, without handing this page to the target.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer')
  }
})

export function renderMarkdown(text) {
  return DOMPurify.sanitize(marked.parse(text), { FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select'], FORBID_ATTR: ['style'] })
}
