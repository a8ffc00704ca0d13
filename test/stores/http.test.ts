// httpStore against a real budget server on 127.0.0.1 (node:http), backed by memoryStore.
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { createBudgetHandler, createBudgetServer } from '../../src/server/index.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { runStoreContract } from '../../src/testing/index.js'
import { startBudgetServer, type RunningBudgetServer } from '../helpers/budget-server.js'
import { retentionTests } from './retention-cases.js'

const TOKEN = 'test-token-0123456789abcdef'

let server: RunningBudgetServer
let url = ''

beforeAll(async () => {
  server = await startBudgetServer({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'contract' } } })
  url = server.url
})

afterAll(async () => {
  await server.close()
})

describe('httpStore against a server backed by memoryStore', () => {
  // The contract checks the store's semantics; the breaker and timeouts have their own tests (http-client).
  // Under a loaded CI machine a 1,000-request burst must not trip them.
  runStoreContract(it, () => httpStore({ url, token: TOKEN, timeoutMs: 30_000, circuitBreaker: false }))

  it('refuses invalid options when it is created', () => {
    expect(() => httpStore({ url: 'not a url', token: TOKEN })).toThrow(/url/)
    expect(() => httpStore({ url: 'ftp://127.0.0.1', token: TOKEN })).toThrow(/http/)
    expect(() => httpStore({ url, token: 'has space' })).toThrow(/token/)
    expect(() => httpStore({ url, token: TOKEN, timeoutMs: -1 })).toThrow(/timeoutMs/)
  })

  it('a commit replayed long after its first attempt counts once (the server remembers call ids for dedupeTtlMs)', async () => {
    const store = httpStore({ url, token: TOKEN })
    const t0 = 1_800_000_000_000
    const request = {
      callId: 'late-replay',
      now: t0,
      entries: [{ key: 'replay|usd', amount: 5, expiresAt: null }],
      dedupeUntil: t0 + 1_000,
    }
    try {
      await store.commit(request)
      // Other traffic moves the server's ledger time 10 minutes on, past the manager's short dedupe window.
      await store.balances({ keys: ['replay|usd'], now: t0 + 600_000 })
      // The outbox delivers the same request again (its first answer was lost).
      expect((await store.commit(request)).duplicate).toBe(true)
      expect(await store.balances({ keys: ['replay|usd'], now: t0 + 600_000 })).toEqual([{ spent: 5, reserved: 0 }])
    } finally {
      await store.close()
    }
  })

  it('BudgetManager over httpStore: during an outage admission is denied and a commit is queued, then delivered once', async () => {
    const backing = memoryStore()
    const own = createBudgetServer({ store: backing, auth: { tokens: { [TOKEN]: 'mgr' } } })
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve))
    const port = (own.address() as AddressInfo).port
    const store = httpStore({
      url: `http://127.0.0.1:${port}`,
      token: TOKEN,
      retries: 0,
      outboxRetryMs: 50,
      circuitBreaker: { cooldownMs: 50 },
    })
    const manager = new BudgetManager({ store })
    try {
      await manager.setBudget('user:outage', { maxBudget: 1 })
      const reservation = await manager.reserve({ user: 'outage' }, 0.1)
      own.closeAllConnections()
      await new Promise((resolve) => own.close(resolve))
      const outcome = await reservation.commit(0.05)
      expect(outcome.duplicate).toBe(false)
      expect(await store.pendingCommits()).toBe(1)
      await expect(manager.reserve({ user: 'outage' }, 0.1)).rejects.toMatchObject({ code: 'STORAGE' })
      await new Promise<void>((resolve) => own.listen(port, '127.0.0.1', resolve))
      while ((await store.flush()) > 0) await new Promise((resolve) => setTimeout(resolve, 50))
      expect((await manager.getStatus('user:outage')).exact).toMatchObject({
        spend: '0.050000000',
        reserved: '0.000000000',
      })
      expect((await backing.queryRecords({})).length).toBe(1)
    } finally {
      await store.close()
      own.closeAllConnections()
      await new Promise((resolve) => own.close(resolve))
    }
  })
})

describe('httpStore retention (the server store evicts; rollups and coverage come over HTTP)', () => {
  retentionTests(async (options) => {
    const backing = memoryStore(options)
    const own = await startBudgetServer({ store: backing, auth: { tokens: { [TOKEN]: 'retention' } } })
    const store = httpStore({ url: own.url, token: TOKEN, timeoutMs: 30_000, circuitBreaker: false })
    return {
      ...store,
      close: async () => {
        await store.close()
        await own.close()
        await backing.close()
      },
    }
  })
})

describe('httpStore through the fetch handler in-process (no node:http)', () => {
  const handler = createBudgetHandler({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'fetch' } } })
  const inProcessFetch = ((input: string | URL | Request, init?: RequestInit) =>
    handler(new Request(input, init))) as typeof fetch
  runStoreContract(it, () => httpStore({ url: 'http://budget.invalid', token: TOKEN, fetch: inProcessFetch }))
})
