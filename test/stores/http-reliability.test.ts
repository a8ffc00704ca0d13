// httpStore against a real budget server on 127.0.0.1 that stalls: a reserve whose outcome the client does not
// know is released by call id, so the stall costs seconds, not the 10-minute hold; errors name the server and
// the operation; options are checked by the one options validator.
import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { serve, type Running } from '../server/serve.js'

const TOKEN = 'http-reliability-token-0123456789'
const T0 = 1_800_000_000_000
const HOLD_TTL = 600_000
const DOLLAR = 1_000_000_000

let running: Running | undefined
afterEach(async () => {
  await running?.stop()
  running = undefined
})

/** A memory store whose every operation waits while `stalled` is set (a server stuck on its storage). */
function stallingStore(): { store: BudgetStore; stall(): void; resume(): void; inner: BudgetStore } {
  const inner = memoryStore()
  let gate: Promise<void> | null = null
  let open: () => void = () => undefined
  const wait = async (): Promise<void> => {
    while (gate !== null) await gate
  }
  const wrap =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await wait()
      return f(...args)
    }
  const store: BudgetStore = {
    ...inner,
    reserve: wrap(inner.reserve),
    commit: wrap(inner.commit),
    release: wrap(inner.release),
    balances: wrap(inner.balances),
  }
  return {
    store,
    inner,
    stall: () => {
      gate = new Promise((resolve) => (open = resolve))
    },
    resume: () => {
      gate = null
      open()
    },
  }
}

const reserve = (callId: string, now = T0) => ({
  callId,
  now,
  holdExpiresAt: now + HOLD_TTL,
  entries: [{ key: 'user:alice|usd', amount: DOLLAR, limit: DOLLAR, expiresAt: null }],
})

describe('a reserve whose outcome is unknown', () => {
  it('is released by call id: after a server stall the next legitimate call is admitted, not refused for the hold TTL', async () => {
    const backing = stallingStore()
    running = await serve({ store: backing.store, auth: { tokens: { [TOKEN]: 'app' } } })
    const store = httpStore({
      url: running.url,
      token: TOKEN,
      timeoutMs: 300,
      retries: 1,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 50,
      circuitBreaker: false,
    })
    try {
      backing.stall()
      // The reserve reaches the server and waits there; the client gives up on it.
      await expect(store.reserve(reserve('stalled'))).rejects.toMatchObject({ code: 'STORAGE' })
      // The stall ends (here after ~1 s; 4 s or more in the field): the late reserve is applied, then or after
      // the client's release of the same call id.
      await new Promise((resolve) => setTimeout(resolve, 700))
      backing.resume()
      // flush() waits for the releases of unknown reserves to be delivered.
      expect(await store.flush()).toBe(0)
      const next = await store.reserve(reserve('next', T0 + 5_000))
      expect(next.ok).toBe(true)
      expect(await backing.inner.balances({ keys: ['app/user:alice|usd'], now: T0 + 5_000 })).toEqual([
        { spent: 0, reserved: DOLLAR },
      ])
    } finally {
      backing.resume()
      await store.close()
    }
  }, 20_000)

  it('is not released when the server refused it (the outcome is known)', async () => {
    const backing = stallingStore()
    running = await serve({ store: backing.store, auth: { tokens: { [TOKEN]: 'app' } } })
    const store = httpStore({ url: running.url, token: TOKEN })
    try {
      expect((await store.reserve(reserve('first'))).ok).toBe(true)
      // Over the limit: refused, nothing to release; the held first call stays held.
      expect((await store.reserve(reserve('second'))).ok).toBe(false)
      expect(await store.flush()).toBe(0)
      expect(await backing.inner.balances({ keys: ['app/user:alice|usd'], now: T0 })).toEqual([
        { spent: 0, reserved: DOLLAR },
      ])
    } finally {
      await store.close()
    }
  })
})

describe('httpStore errors', () => {
  it('name the server URL, the operation and the network cause', async () => {
    // A port that nothing listens on.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as { port: number }).port
    await new Promise((resolve) => probe.close(resolve))
    const url = `http://127.0.0.1:${port}`
    const store = httpStore({ url, token: TOKEN, retries: 0, circuitBreaker: false })
    try {
      const error = await store.balances({ keys: ['k'], now: T0 }).catch((e: unknown) => e as Error)
      expect(error).toMatchObject({ code: 'STORAGE' })
      expect((error as Error).message).toContain(url)
      expect((error as Error).message).toContain('balances')
      expect((error as Error).message).toContain('ECONNREFUSED')
    } finally {
      await store.close()
    }
  })

  it('refuse unknown options with a suggestion, and bad values naming the option', () => {
    expect(() => httpStore({ url: 'http://127.0.0.1:1', token: TOKEN, timeoutMS: 5 } as never)).toThrow(/timeoutMs/)
    expect(() => httpStore({ url: 'http://127.0.0.1:1', token: TOKEN, retries: -1 })).toThrow(/retries/)
    expect(() =>
      httpStore({ url: 'http://127.0.0.1:1', token: TOKEN, circuitBreaker: { cooldownMS: 1 } } as never),
    ).toThrow(/cooldownMs/)
    expect(() => httpStore({ url: `http://127.0.0.1:1/${'x'.repeat(10_000)}`, token: 'has space' })).toThrow(/token/)
  })
})
