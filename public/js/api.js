// Talking to the gateway from the pages: the optional gateway API key (kept in localStorage,
// sent as a Bearer token) and OpenAI-shaped error envelopes turned into readable messages.
const KEY_STORAGE = 'tiergate.apiKey'

export function storedApiKey() {
  return localStorage.getItem(KEY_STORAGE) ?? ''
}

export function storeApiKey(key) {
  const trimmed = key.trim()
  if (trimmed) localStorage.setItem(KEY_STORAGE, trimmed)
  else localStorage.removeItem(KEY_STORAGE)
}

export function authHeaders() {
  const key = storedApiKey()
  return key ? { authorization: `Bearer ${key}` } : {}
}

/** An HTTP answer that was not 2xx, with the gateway's own message when it sent one. */
export class GatewayError extends Error {
  constructor(message, status, code) {
    super(message)
    this.name = 'GatewayError'
    this.status = status
    this.code = code
  }
}

/** The error envelope's message (`{"error":{"message",…}}`), else the status line. */
export async function errorFrom(response) {
  const text = await response.text().catch(() => '')
  let envelope
  try { envelope = JSON.parse(text) } catch { /* not JSON: a proxy page, say */ }
  const message = envelope?.error?.message ?? `HTTP ${response.status} ${response.statusText}`.trim()
  return new GatewayError(message, response.status, envelope?.error?.code ?? null)
}

export async function getJson(url, init = {}) {
  const response = await fetch(url, { ...init, headers: { accept: 'application/json', ...authHeaders(), ...init.headers } })
  if (!response.ok) throw await errorFrom(response)
  return response.json()
}
