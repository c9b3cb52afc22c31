import type { Socket } from 'node:net'

// Ends a ws socket's connection with a TCP reset. A peer that stopped reading takes neither a
// close frame nor a FIN: closed the ordinary way, the connection lingers as an orphan that keeps
// everything queued for it (in this process until the close, in the kernel's send buffer after)
// for as long as the peer holds its window shut. A reset discards both at once.
export function resetConnection (socket: { readonly readyState: number, terminate: () => void }): void {
  const CLOSED = 3
  if (socket.readyState === CLOSED) return
  const connection = (socket as { _socket?: Partial<Socket> })._socket
  if (connection?.resetAndDestroy !== undefined && !connection.destroyed) connection.resetAndDestroy()
  else socket.terminate()
}
