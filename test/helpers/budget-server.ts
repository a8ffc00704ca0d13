/**
 * The budget server (`createBudgetServer`) on a free loopback port, for tests that talk to it over HTTP.
 *
 * ```ts
 * const server = await startBudgetServer({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'tenant' } } })
 * const store = httpStore({ url: server.url, token: TOKEN })
 * ...
 * await server.close()
 * ```
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBudgetServer, type BudgetServerOptions } from '../../src/server/index.js'

/** A listening budget server. */
export interface RunningBudgetServer {
  server: Server
  /** The loopback port. */
  port: number
  /** `http://127.0.0.1:<port>`. */
  url: string
  /** Drops every connection and stops listening. */
  close(): Promise<void>
}

/** Starts `createBudgetServer(options)` on 127.0.0.1 (a free port, or `port`) and resolves once it listens. */
export async function startBudgetServer(options: BudgetServerOptions, port = 0): Promise<RunningBudgetServer> {
  const server = createBudgetServer(options)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const actual = (server.address() as AddressInfo).port
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
