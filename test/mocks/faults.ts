// Faults any mock upstream can be scripted with: the ways real upstreams fail.
import type { ServerResponse } from 'node:http'
import { sleep } from './server.ts'

export type Fault =
  | { fault: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { fault: 'reset' } // socket destroyed before any header
  | { fault: 'hang' } // accepts, never answers
  | { fault: 'html'; status?: number } // an HTML error page (proxy / CDN)
  | { fault: 'wrong-content-type' } // 200 with text/plain
  | { fault: 'truncated-json' } // 200 JSON cut mid-object
  | { fault: 'delay'; ms: number } // answer normally, after ms (placed before a normal answer)

export function isFault(step: unknown): step is Fault {
  return typeof step === 'object' && step !== null && 'fault' in step
}

/** Plays a fault. Returns true if the response is dealt with; 'delay' returns false after waiting. */
export async function playFault(res: ServerResponse, fault: Fault): Promise<boolean> {
  switch (fault.fault) {
    case 'status': {
      const body = typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body ?? { error: { message: `mock status ${fault.status}`, type: 'api_error', param: null, code: null } })
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers })
      res.end(body)
      return true
    }
    case 'reset':
      res.socket?.destroy()
      return true
    case 'hang':
      return true
    case 'html':
      res.writeHead(fault.status ?? 502, { 'content-type': 'text/html' })
      res.end('<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>')
      return true
    case 'wrong-content-type':
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('Service temporarily unavailable, please try later')
      return true
    case 'truncated-json':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis')
      return true
    case 'delay':
      await sleep(fault.ms)
      return false
  }
}
