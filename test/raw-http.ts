import { connect, type Socket } from 'node:net'

// HTTP/1.1 over a bare TCP socket, for tests about what a client library would hide:
// bytes no client would send, connections kept open without a request, and how the server
// ends a connection (a clean end, or a reset).

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
  json: () => any
}

export interface RawConnection {
  socket: Socket
  write: (data: string) => Promise<void>
  // The next response on this connection (framed by content-length), rejected if the
  // connection ends first.
  response: () => Promise<RawResponse>
  // Settles when the connection is closed: with the socket error (ECONNRESET...) if any.
  closed: Promise<{ error: string | null }>
}

function parse (head: string, body: string): RawResponse {
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body, json: () => JSON.parse(body) }
}

export async function rawConnect (port: number): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1')
  let buffer = Buffer.alloc(0)
  let ended = false
  const ready: RawResponse[] = []
  const waiting: Array<{ resolve: (r: RawResponse) => void, reject: (e: Error) => void }> = []

  function drain (): void {
    for (;;) {
      const headEnd = buffer.indexOf('\r\n\r\n')
      if (headEnd < 0) break
      const head = buffer.subarray(0, headEnd).toString('latin1')
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0)
      if (buffer.length < headEnd + 4 + length) break
      ready.push(parse(head, buffer.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8')))
      buffer = buffer.subarray(headEnd + 4 + length)
    }
    while (ready.length > 0 && waiting.length > 0) waiting.shift()!.resolve(ready.shift()!)
    if (ended) for (const w of waiting.splice(0)) w.reject(new Error('the connection ended before a response'))
  }

  let error: string | null = null
  socket.on('data', (chunk) => { buffer = Buffer.concat([buffer, chunk]); drain() })
  socket.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message })
  const closed = new Promise<{ error: string | null }>((resolve) => {
    socket.once('close', () => { ended = true; drain(); resolve({ error }) })
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return {
    socket,
    closed,
    write: async (data) => await new Promise<void>((resolve, reject) => socket.write(data, (err) => err ? reject(err) : resolve())),
    response: async () => await new Promise<RawResponse>((resolve, reject) => {
      waiting.push({ resolve, reject })
      drain()
    })
  }
}
