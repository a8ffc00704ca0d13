// Starts a budget server on a free port of 127.0.0.1 for one test file, and stops it.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { createBudgetServer, type BudgetServerOptions } from '../../src/server/index.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'

export interface Running {
  server: Server
  url: string
  port: number
  stop(): Promise<void>
}

export async function serve(options: BudgetServerOptions, port = 0): Promise<Running> {
  const server = createBudgetServer(options)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actual = (server.address() as AddressInfo).port
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    stop: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** POSTs JSON with a bearer token and returns the status, the parsed body and the headers. */
export async function post(
  url: string,
  token: string | null,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers }
}

/**
 * A server on a fresh `memoryStore` for a whole test file, started before its tests and stopped after, that lets
 * `token` in as `tenant`: `suite.running` is the server, `suite.backing` its store.
 */
export function memoryServerForSuite(
  token: string,
  tenant: string,
): { readonly running: Running; readonly backing: BudgetStore } {
  const suite = {} as { running: Running; backing: BudgetStore }
  beforeAll(async () => {
    suite.backing = memoryStore()
    suite.running = await serve({ store: suite.backing, auth: { tokens: { [token]: tenant } } })
  })
  afterAll(async () => {
    await suite.running?.stop()
  })
  return suite
}
