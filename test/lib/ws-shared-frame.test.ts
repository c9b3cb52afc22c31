import { test } from 'tap'
import { once } from 'node:events'
import { WebSocket, WebSocketServer } from 'ws'
import { sendSharedFrame, sharedTextFrame, wholeFrameTarget } from '../../lib/ws-shared-frame.ts'

// Frames built once and written whole must arrive as the same messages a ws send would give,
// whatever the payload length's encoding (7-bit, 16-bit, 64-bit), and in order with frames the
// library sends itself.

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70000]

async function receiveAll (perMessageDeflate: boolean, count: number, onServer: (socket: WebSocket) => void): Promise<{ messages: string[], extensions: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate })
  await once(wss, 'listening')
  const { port } = wss.address() as { port: number }
  let extensions = ''
  wss.on('connection', (socket) => { extensions = socket.extensions; onServer(socket) })
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate })
  const messages: string[] = []
  await new Promise<void>((resolve, reject) => {
    client.on('message', (data, isBinary) => {
      if (isBinary) reject(new Error('binary frame'))
      messages.push(data.toString())
      if (messages.length === count) resolve()
    })
    client.on('error', reject)
  })
  client.close()
  await new Promise((resolve) => wss.close(resolve))
  return { messages, extensions }
}

function payloads (): string[] {
  return SIZES.map((n, i) => `${i}:`.padEnd(Math.max(n, 2), 'é').slice(0, Math.max(n, 2)))
}

test('shared frames arrive as text messages of every length, in order with ordinary sends', async (t) => {
  const sent = payloads()
  const { messages, extensions } = await receiveAll(false, sent.length * 2, (socket) => {
    for (const p of sent) {
      sendSharedFrame(socket, wholeFrameTarget(socket), sharedTextFrame(Buffer.from(p)))
      socket.send(`after ${p.slice(0, 3)}`)
    }
  })
  t.equal(extensions, '', 'no extension negotiated: frames written whole')
  t.same(messages, sent.flatMap((p) => [p, `after ${p.slice(0, 3)}`]))
})

test('with permessage-deflate negotiated the library frames (and compresses) the message', async (t) => {
  const sent = payloads()
  const { messages, extensions } = await receiveAll(true, sent.length, (socket) => {
    for (const p of sent) sendSharedFrame(socket, wholeFrameTarget(socket), sharedTextFrame(Buffer.from(p)))
  })
  t.match(extensions, /permessage-deflate/)
  t.same(messages, sent)
})

test('the header encodes each length as RFC 6455 requires', async (t) => {
  t.same([...sharedTextFrame(Buffer.alloc(125)).wire.subarray(0, 2)], [0x81, 125])
  t.same([...sharedTextFrame(Buffer.alloc(126)).wire.subarray(0, 4)], [0x81, 126, 0, 126])
  t.same([...sharedTextFrame(Buffer.alloc(65536)).wire.subarray(0, 10)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0])
  t.equal(sharedTextFrame(Buffer.alloc(65536)).wire.length, 65546)
})
