// The upstream transport's door into tracing, without loading OpenTelemetry: `traceHeaders(url)`
// returns the attempt's W3C trace headers once some app in this process turned tracing on
// (plugins/telemetry.ts installs the real function, then loaded lazily), and nothing before.
// Process-wide like the context manager it reads: the installed function finds the request's
// trace in the active context, so it serves every app in the process, traced or not.

type AttemptHeaders = (url: URL) => Record<string, string>

const NONE: Record<string, string> = Object.freeze({}) as Record<string, string>
let installed: AttemptHeaders | undefined

export function installTraceHeaders(fn: AttemptHeaders): void {
  installed = fn
}

/** The headers that carry a new attempt span, or none when tracing is off. Never throws. */
export function traceHeaders(url: URL): Record<string, string> {
  return installed ? installed(url) : NONE
}
