import type { Writable } from 'node:stream'

// A text message sent to many WebSockets is framed once (RFC 6455 section 5.2): frames from a
// server are never masked, so every client receives the very same bytes. Writing them straight
// to each connection saves the ws library's per-send framing (a header buffer, an options
// object, cork, two writes and uncork) for each of thousands of sockets.

export interface SharedFrame {
  // The message itself (UTF-8 JSON).
  data: Buffer
  // The complete frame on the wire: header and unmasked payload.
  wire: Buffer
}

export function sharedTextFrame (data: Buffer): SharedFrame {
  const length = data.length
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const wire = Buffer.allocUnsafe(headerLength + length)
  wire[0] = 0x81 // FIN, opcode 1 (text)
  if (length < 126) {
    wire[1] = length
  } else if (length < 65536) {
    wire[1] = 126
    wire.writeUInt16BE(length, 2)
  } else {
    wire[1] = 127
    wire.writeBigUInt64BE(BigInt(length), 2)
  }
  data.copy(wire, headerLength)
  return { data, wire }
}

interface WsInternals {
  // The ws library's connection and negotiated extensions: with none (no permessage-deflate)
  // its sender writes every frame to this connection at once, in order, so writing a whole
  // frame here keeps the stream intact.
  _socket?: Writable
  extensions?: string
}

// Where whole frames may be written for an open ws socket: its connection when no extension
// was negotiated, else null. Decided once, after the handshake (extensions never change).
export function wholeFrameTarget (socket: object): Writable | null {
  const ws = socket as WsInternals
  return ws._socket !== undefined && ws.extensions === '' ? ws._socket : null
}

// Callers check that the socket is open first.
export function sendSharedFrame (socket: { send: (data: Buffer, options: { binary: boolean }) => void }, target: Writable | null, frame: SharedFrame): void {
  if (target !== null && !target.destroyed) target.write(frame.wire)
  else socket.send(frame.data, { binary: false })
}
