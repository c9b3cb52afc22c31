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

// The header of an unmasked text frame of `length` payload bytes.
function textFrameHeader (length: number, into?: Buffer): Buffer {
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const header = into ?? Buffer.allocUnsafe(headerLength)
  header[0] = 0x81 // FIN, opcode 1 (text)
  if (length < 126) {
    header[1] = length
  } else if (length < 65536) {
    header[1] = 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  return header
}

export function sharedTextFrame (data: Buffer): SharedFrame {
  const length = data.length
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const wire = Buffer.allocUnsafe(headerLength + length)
  textFrameHeader(length, wire)
  data.copy(wire, headerLength)
  return { data, wire }
}

// A text message made of a part shared by many clients and a short part of one client's own
// (a window's frame closed with the client's rank): only the header and the tail are written
// per client; the head's bytes are referenced, never copied, however long the socket queues.
export interface SplitFrame {
  head: Buffer
  tail: Buffer
}

export function frameLength (frame: SharedFrame | SplitFrame): number {
  return 'wire' in frame ? frame.wire.length : frame.head.length + frame.tail.length + 10
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
export function sendSharedFrame (socket: { send: (data: Buffer, options: { binary: boolean }) => void }, target: Writable | null, frame: SharedFrame | SplitFrame): void {
  if ('wire' in frame) {
    if (target !== null && !target.destroyed) target.write(frame.wire)
    else socket.send(frame.data, { binary: false })
  } else if (target !== null && !target.destroyed) {
    // Written in one go; every chunk a Buffer, so nothing is copied while the socket queues.
    target.cork()
    target.write(textFrameHeader(frame.head.length + frame.tail.length))
    target.write(frame.head)
    target.write(frame.tail)
    target.uncork()
  } else {
    socket.send(Buffer.concat([frame.head, frame.tail]), { binary: false })
  }
}
