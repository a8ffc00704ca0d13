// httpStore against a real budget server on 127.0.0.1 (node:http), backed by memoryStore.
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBudgetServer } from '../../src/server/index.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { runStoreContract } from '../../src/testing/index.js'

const TOKEN = 'test-token-0123456789abcdef'

let server: Server
let url = ''

beforeAll(async () => {
  server = createBudgetServer({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'contract' } } })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe('httpStore against a server backed by memoryStore', () => {
  runStoreContract(it, () => httpStore({ url, token: TOKEN }))

  it('refuses invalid options when it is created', () => {
    expect(() => httpStore({ url: 'not a url', token: TOKEN })).toThrow(/url/)
    expect(() => httpStore({ url: 'ftp://127.0.0.1', token: TOKEN })).toThrow(/http/)
    expect(() => httpStore({ url, token: 'has space' })).toThrow(/token/)
    expect(() => httpStore({ url, token: TOKEN, timeoutMs: -1 })).toThrow(/timeoutMs/)
  })
})
