// The response cache on its own: entries, TTL, single flight, a shared backend, damaged entries and bad options.
import { describe, expect, it } from 'vitest'
import { BudgetConfigError } from '../../src/errors.js'
import { defaultCacheKey, responseCache, type ResponseCacheBackend } from '../../src/budget/response-cache.js'

const entry = (value: unknown) => ({ value, stream: false, cost: '0.0075', model: 'gpt-4o', storedAt: 1 })

describe('responseCache', () => {
  it('stores and answers entries; a miss is undefined', async () => {
    const cache = responseCache({ max: 10, ttlMs: 60_000 })
    expect(await cache.lookup('k')).toBeUndefined()
    await cache.store('k', entry({ text: 'hi' }))
    expect(await cache.lookup('k')).toEqual(entry({ text: 'hi' }))
    cache.clear()
    expect(await cache.lookup('k')).toBeUndefined()
  })

  it('forgets entries after ttlMs', async () => {
    const cache = responseCache({ ttlMs: 20 })
    await cache.store('k', entry(1))
    await new Promise((r) => setTimeout(r, 60))
    expect(await cache.lookup('k')).toBeUndefined()
  })

  it('10 identical concurrent misses run once', async () => {
    const cache = responseCache()
    let calls = 0
    let open!: () => void
    const gate = new Promise<void>((r) => (open = r))
    const runs = Array.from({ length: 10 }, () =>
      cache.singleFlight('same', async () => {
        calls++
        await gate
        return 'answer'
      }),
    )
    open()
    const results = await Promise.all(runs)
    expect(calls).toBe(1)
    expect(results.filter((r) => r.leader)).toHaveLength(1)
    expect(results.every((r) => r.value === 'answer')).toBe(true)
    // The flight is over: the next miss runs again.
    await cache.singleFlight('same', async () => calls++)
    expect(calls).toBe(2)
  })

  it('shares entries through a backend, as JSON; a damaged entry is a miss and is deleted', async () => {
    const data = new Map<string, string>()
    const backend: ResponseCacheBackend = {
      get: async (k) => data.get(k),
      set: async (k, v) => void data.set(k, v),
      delete: async (k) => void data.delete(k),
    }
    const a = responseCache({ backend })
    const b = responseCache({ backend })
    await a.store('k', entry({ text: 'shared' }))
    expect([...data.keys()]).toEqual(['llm-budget:cache:k'])
    expect(await b.lookup('k')).toEqual(entry({ text: 'shared' }))
    data.set('llm-budget:cache:bad', '{"value":1,"cost":"-5"}')
    expect(await b.lookup('bad')).toBeUndefined()
    expect(data.has('llm-budget:cache:bad')).toBe(false)
  })

  it('refuses bad options with the option named', () => {
    expect(() => responseCache({ ttl: 5 } as never)).toThrow(BudgetConfigError)
    expect(() => responseCache({ ttl: 5 } as never)).toThrow('Did you mean `ttlMs`?')
    expect(() => responseCache({ max: 0 })).toThrow(/`max`/)
    expect(() => responseCache({ backend: {} as never })).toThrow(/`backend`/)
  })
})

describe('defaultCacheKey', () => {
  it('is stable under key order and ignores functions and undefined', () => {
    const a = defaultCacheKey([{ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], signal: undefined }])
    const b = defaultCacheKey([{ messages: [{ content: 'hi', role: 'user' }], model: 'gpt-4o', onChunk: () => 1 }])
    expect(a).toBe(b)
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(defaultCacheKey([{ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi!' }] }])).not.toBe(a)
  })

  it('refuses cyclic arguments with a typed error', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => defaultCacheKey([cyclic])).toThrow(/cacheKey/)
  })
})
