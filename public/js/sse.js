// Server-sent events from a fetch() response body, as the `data:` payloads (strings) in order.
// fetch + ReadableStream rather than EventSource: EventSource cannot POST, send headers or be
// aborted per request.
export async function* sseData(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value.replace(/\r\n?/g, '\n')
      let end
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = event.split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        if (data.length) yield data.join('\n') // lines starting with ':' are comments
      }
    }
  } finally {
    reader.releaseLock()
  }
}
