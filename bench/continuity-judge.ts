// Reads one gateway stream as raw SSE (timestamps per event, comments kept) and judges it
// against the reference answer: complete and byte-identical, an honest error, or wrong.
import type { Reference } from '../test/mocks/continuation.ts'

export interface ReadEvent { at: number; comment?: string; data?: string }

export async function readStream(url: string, body: unknown): Promise<{ status: number; events: ReadEvent[]; failed?: string }> {
  const events: ReadEvent[] = []
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (!res.body) return { status: res.status, events }
    const decoder = new TextDecoder()
    let buffer = ''
    const reader = res.body.getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      const at = performance.now()
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) events.push({ at, comment: line.slice(1).trim() })
          else if (line.startsWith('data: ')) events.push({ at, data: line.slice(6) })
        }
      }
    }
    return { status: res.status, events }
  } catch (err) {
    return { status: 0, events, failed: String(err) }
  }
}

export interface Judged {
  verdict: 'complete' | 'honest' | 'wrong'
  why: string
  resumes: number
  strategies: string[]
  /** Longest client-side gap across a resume (ms): from the event before the note to the one after. */
  resumeGapMs: number
  /** Longest gap between two data events of the stream (ms). */
  longestGapMs: number
}

interface Collected { text: string; reasoning: string; calls: Array<{ id?: string; name: string; arguments: string }>; finishes: number; ids: Set<string>; done: number; errors: number }

function collect(events: ReadEvent[]): Collected {
  const c: Collected = { text: '', reasoning: '', calls: [], finishes: 0, ids: new Set(), done: 0, errors: 0 }
  for (const e of events) {
    if (e.data === undefined) continue
    if (e.data === '[DONE]') { c.done++; continue }
    const chunk = JSON.parse(e.data)
    if (chunk.error) { c.errors++; continue }
    c.ids.add(chunk.id)
    const choice = chunk.choices?.[0]
    if (!choice) continue
    c.text += choice.delta?.content ?? ''
    c.reasoning += choice.delta?.reasoning_content ?? ''
    if (choice.finish_reason) c.finishes++
    for (const f of choice.delta?.tool_calls ?? []) {
      const call = (c.calls[f.index] ??= { name: '', arguments: '' })
      if (f.id) call.id = f.id
      if (f.function?.name) call.name = f.function.name
      call.arguments += f.function?.arguments ?? ''
    }
  }
  return c
}

export function judge(reference: Reference, stream: { status: number; events: ReadEvent[]; failed?: string }): Judged {
  const notes = stream.events.filter((e) => e.comment?.includes('resumed'))
  const strategies = notes.map((n) => /via (\w+)/.exec(n.comment!)?.[1] ?? 'unknown')
  let resumeGapMs = 0
  for (const note of notes) {
    const i = stream.events.indexOf(note)
    const before = stream.events.slice(0, i).findLast((e) => e.data !== undefined)
    const after = stream.events.slice(i + 1).find((e) => e.data !== undefined)
    if (before && after) resumeGapMs = Math.max(resumeGapMs, after.at - before.at)
  }
  const data = stream.events.filter((e) => e.data !== undefined)
  const longestGapMs = data.slice(1).reduce((max, e, i) => Math.max(max, e.at - data[i].at), 0)
  const base = { resumes: notes.length, strategies, resumeGapMs, longestGapMs }
  if (stream.status !== 200) return { ...base, verdict: 'wrong', why: `HTTP ${stream.status} ${stream.failed ?? ''}` }
  let c: Collected
  try {
    c = collect(stream.events)
  } catch (err) {
    return { ...base, verdict: 'wrong', why: `unparseable event: ${err}` }
  }
  // Compared field by field in one order (the client assembles them in whatever order fragments came).
  const show = (call: { id?: string; name: string; arguments: string }) => JSON.stringify([call.id, call.name, call.arguments])
  const wantCalls = (reference.toolCalls ?? []).map((t) => show({ id: t.id, name: t.name, arguments: t.arguments }))
  const gotCalls = c.calls.filter(Boolean).map(show)
  const callsText = JSON.stringify(gotCalls)
  if (c.errors > 0 && c.done === 0) {
    const prefix = reference.text.startsWith(c.text) && (reference.reasoning ?? '').startsWith(c.reasoning)
    const calls = gotCalls.every((call, i) => call === wantCalls[i])
    return prefix && calls && c.finishes === 0 ? { ...base, verdict: 'honest', why: 'error event, a true prefix delivered' } : { ...base, verdict: 'wrong', why: `error after a wrong partial answer: ${JSON.stringify(c.text.slice(-60))}` }
  }
  const problems: string[] = []
  if (c.done !== 1) problems.push(`${c.done} [DONE]`)
  if (c.errors > 0) problems.push('an error event before [DONE]')
  if (c.finishes !== 1) problems.push(`${c.finishes} finish_reason`)
  if (c.ids.size !== 1) problems.push(`${c.ids.size} ids`)
  if (c.text !== reference.text) problems.push(`text differs: got ${JSON.stringify(c.text.slice(0, 200))}`)
  if (c.reasoning !== (reference.reasoning ?? '')) problems.push(`reasoning differs: ${JSON.stringify(c.reasoning.slice(0, 120))}`)
  if (callsText !== JSON.stringify(wantCalls)) problems.push(`tool calls differ: ${callsText}`)
  return problems.length === 0 ? { ...base, verdict: 'complete', why: 'byte-identical' } : { ...base, verdict: 'wrong', why: problems.join('; ') }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}
