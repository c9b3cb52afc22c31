import { createServer, connect, type Socket } from 'node:net'

// A TCP proxy to a real server that a test can cut and restore, to show what the app does
// when a dependency becomes unreachable, without stopping the shared server.
export interface TcpProxy {
  port: number
  cut: () => void
  restore: () => void
  close: () => Promise<void>
}

export async function startTcpProxy (target: { host: string, port: number }): Promise<TcpProxy> {
  let open = true
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    if (!open) { client.destroy(); return }
    const upstream = connect(target.port, target.host)
    sockets.add(client).add(upstream)
    const drop = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream) }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  function cut (): void {
    open = false
    for (const s of sockets) s.destroy()
    sockets.clear()
  }
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cut,
    restore () { open = true },
    async close () {
      cut()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
