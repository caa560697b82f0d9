// The upstreams of `npm run bench:continuity`: an OpenAI-compatible primary (`one`), an
// Anthropic primary (`anthropic`) and a healthy OpenAI-compatible fallback (`two`) that serves
// both models. Each stream's fault is written into its own prompt (`spec`), so that a thousand
// concurrent requests cannot take each other's script: the primary fails as told on a fresh
// request; the fallback continues from whatever the gateway sends it (continue, start over or
// repeat the last words; prefill taken or rejected), or fails too (an honest error expected).
import { startScriptedUpstream, framesFor, type ScriptStep, type ScriptedUpstream, type StreamFault, type Wire } from '../test/mocks/scripted-stream.ts'
import { planAnswer, partialOf, type ContinuationStyle, type Reference } from '../test/mocks/continuation.ts'

export const REFERENCES: Reference[] = [
  { text: 'Paris is the capital of France. It lies on the Seine, in the north of the country.\n\nAbout two million people live in the city itself, and more than twelve million in its region. It is known for its museums, its food, its long history and its wide avenues.' },
  { text: 'Let me look that up for you.', toolCalls: [{ id: 'call_bench_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius","days":3}' }] },
  { text: 'I will check both.', toolCalls: [{ id: 'call_bench_2', name: 'search', arguments: '{"query":"Seine length","limit":5}' }, { id: 'call_bench_3', name: 'search', arguments: '{"query":"Paris population","limit":5}' }] },
  { reasoning: 'The user wants a short fact. The Seine is about 777 km long; mention where it flows.', text: 'The Seine is about 777 kilometres long. It rises near Dijon and flows through Paris and Rouen into the English Channel at Le Havre.' },
  { text: 'Here is a list:\n\n1. Bread\n2. Cheese\n3. Wine\n\nEach of them is part of a classic French meal, and each region has its own version. ', pieces: 'trailing-space' },
  { text: 'Größe, Straße und Café: Wörter mit Umlauten, Akzenten und ß bleiben Byte für Byte erhalten — auch über einen Wiederanlauf hinweg. 東京 und Zürich ebenso.' },
]

export type FaultKind = 'cut' | 'stall' | 'error' | 'malformed'

export interface StreamSpec {
  model: 'bench-oa' | 'bench-an'
  reference: number
  /** Undefined: a healthy stream (the latency baseline). */
  fault?: { kind: FaultKind; after: number; inToolCall: boolean }
  style: ContinuationStyle
  prefill: 'accept' | 'reject'
  /** The fallback fails as well: nothing can continue, an honest error is the right end. */
  fallbackFails: boolean
}

export const wireOf = (model: StreamSpec['model']): Wire => (model === 'bench-oa' ? 'openai' : 'anthropic')

const SPEC = /\[bench (\{.*?\})\]/

export const promptFor = (spec: StreamSpec) => `Answer from the reference. [bench ${JSON.stringify(spec)}]`

function specOf(body: any): StreamSpec | undefined {
  const first = (body.messages ?? []).find((m: any) => m.role === 'user')
  const text = typeof first?.content === 'string' ? first.content : (first?.content ?? []).map((b: any) => b.text ?? '').join('')
  const match = SPEC.exec(text)
  return match ? (JSON.parse(match[1]) as StreamSpec) : undefined
}

function stepOf(fault: NonNullable<StreamSpec['fault']>): StreamFault {
  switch (fault.kind) {
    case 'cut': return { cut: fault.after }
    case 'stall': return { stall: fault.after }
    case 'error': return { error: fault.after }
    case 'malformed': return { malformed: fault.after }
  }
}

/** Where a fault may strike: after some answer text went out, or inside a tool call's arguments. */
export function faultPoints(spec: Pick<StreamSpec, 'model' | 'reference'>): { text: number[]; toolArgs: number[] } {
  const frames = framesFor(wireOf(spec.model), spec.model, planAnswer(REFERENCES[spec.reference], [{ role: 'user', content: '' }]), false)
  // `after` = events sent before the fault: at least the first text event, at most all but the end.
  return { text: frames.textFrames.map((i) => i + 1), toolArgs: frames.toolArgFrames }
}

export interface BenchUpstreams {
  one: ScriptedUpstream
  anthropic: ScriptedUpstream
  two: ScriptedUpstream
  close(): Promise<void>
}

export async function startBenchUpstreams(gapMs: number): Promise<BenchUpstreams> {
  const primaries = await Promise.all([
    startScriptedUpstream({ wire: 'openai', reference: REFERENCES[0], models: ['bench-oa'] }),
    startScriptedUpstream({ wire: 'anthropic', reference: REFERENCES[0], models: ['bench-an'], apiKey: 'sk-ant-bench' }),
  ])
  const two = await startScriptedUpstream({ wire: 'openai', reference: REFERENCES[0], models: ['bench-oa', 'bench-an'] })
  for (const up of [...primaries, two]) up.gapMs = gapMs
  for (const primary of primaries) {
    primary.per = (body) => {
      const spec = specOf(body)
      if (!spec) return {}
      // The scripted fault strikes the stream it was written for; a continuation sent back here
      // succeeds, unless the spec says nothing may continue (then it fails like the fallback).
      const fresh = partialOf(body.messages ?? []).mode === 'fresh'
      const step: ScriptStep = spec.fault && fresh ? stepOf(spec.fault) : spec.fallbackFails ? { cut: 2 } : 'ok'
      return { reference: REFERENCES[spec.reference], step }
    }
  }
  two.per = (body) => {
    const spec = specOf(body)
    if (!spec) return {}
    return { reference: REFERENCES[spec.reference], step: spec.fallbackFails ? { cut: 2 } : 'ok', style: spec.style, prefill: spec.prefill }
  }
  const [one, anthropic] = primaries
  return {
    one, anthropic, two,
    async close() {
      await Promise.all([one.close(), anthropic.close(), two.close()])
    },
  }
}

/** Run as a child process (`--child`): the upstreams get their own event loop, apart from the clients. */
if (process.argv.includes('--child') && process.send) {
  const up = await startBenchUpstreams(Number(process.env.BENCH_GAP_MS ?? 1))
  process.send({ one: up.one.baseUrl, anthropic: up.anthropic.baseUrl, two: up.two.baseUrl })
  process.on('message', (message) => {
    if (message === 'close') void up.close().then(() => process.exit(0))
  })
  process.on('disconnect', () => process.exit(0))
}
