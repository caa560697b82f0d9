// The body of a raw HTTP/1.1 response in chunked encoding, as the frames the server wrote: the
// tests that check how many writes a stream takes read the wire, not a client's reassembly.
export function chunkedFramesOf(response: string): string[] {
  let rest = response.slice(response.indexOf('\r\n\r\n') + 4)
  const frames: string[] = []
  for (;;) {
    const lineEnd = rest.indexOf('\r\n')
    const size = parseInt(rest.slice(0, lineEnd), 16)
    if (!size) break
    frames.push(rest.slice(lineEnd + 2, lineEnd + 2 + size))
    rest = rest.slice(lineEnd + 2 + size + 2)
  }
  return frames
}
