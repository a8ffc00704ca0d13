// httpStore against a real budget server on 127.0.0.1 backed by fileStore (durable, fsync per group commit).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import { httpStore } from '../../src/stores/http.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { runStoreContract } from '../../src/testing/index.js'
import { startBudgetServer, type RunningBudgetServer } from '../helpers/budget-server.js'

const TOKEN = 'file-contract-token-0123456789'
let dir = ''
let store: BudgetStore
let server: RunningBudgetServer
let url = ''

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llm-budget-http-file-'))
  store = fileStore({ path: join(dir, 'data') })
  server = await startBudgetServer({ store, auth: { tokens: { [TOKEN]: 'contract' } } })
  url = server.url
})

afterAll(async () => {
  await server.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('httpStore against a server backed by fileStore', () => {
  // The contract checks the store's semantics; the breaker and timeouts have their own tests (http-client).
  // Under a loaded CI machine a 1,000-request burst must not trip them.
  runStoreContract(it, () => httpStore({ url, token: TOKEN, timeoutMs: 30_000, circuitBreaker: false }))
})
