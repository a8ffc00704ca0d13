/**
 * The life of a command's HTTP server (`serve`, `dashboard`): listen on `host:port` (0 picks a free port) and
 * return the address to print, with an IPv6 host in brackets; a failure to listen (port taken, bad host) closes
 * what the command opened and rethrows. Then wait for the signal that stops it.
 *
 * @packageDocumentation
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Listens, and returns `host:port` as a URL authority. @throws the listen error, after `close()`. */
export async function listen(server: Server, port: number, host: string, close: () => Promise<void>): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch(async (error: unknown) => {
    await close()
    throw error
  })
  const address = server.address() as AddressInfo
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `${shownHost}:${address.port}`
}

/** Resolves with the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'))
    process.once('SIGINT', () => resolve('SIGINT'))
  })
}
