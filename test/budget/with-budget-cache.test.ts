// withBudget({ cache }): hits skip the function and are recorded at $0 with `saved`; querySpend carries `saved`;
// identical concurrent misses call once; streams are kept and replayed; a Redis backend shares hits between
// instances (a real redis-server); bad input is typed.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager, responseCache, withBudget } from '../../src/budget/index.js'
import { calculateCost } from '../../src/cost/index.js'
import { BudgetConfigError, InvalidInputError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisCacheBackend } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

const USAGE = { prompt_tokens: 1_000, completion_tokens: 200 }
const COST = calculateCost({ model: 'gpt-4o-mini', usage: USAGE })
const ESTIMATE = { model: 'gpt-4o-mini', inputTokens: 1_000, maxOutputTokens: 500 }

function counted() {
  const state = { calls: 0 }
  const fn = async (prompt: string) => {
    state.calls++
    return { model: 'gpt-4o-mini', text: prompt.toUpperCase(), usage: USAGE }
  }
  return { state, fn }
}

describe('withBudget({ cache })', () => {
  it('a hit does not call fn, records $0 with cacheHit and saved; querySpend totals and groups carry saved', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    const { state, fn } = counted()
    const ask = withBudget(fn, { manager, context: { user: 'alice' }, estimate: ESTIMATE, cache: responseCache() })
    const first = await ask('hi')
    const second = await ask('hi')
    expect(second).toEqual(first)
    expect(state.calls).toBe(1)
    const [miss, hit] = await manager.spendRecords({})
    expect(miss?.status).toBe('success')
    expect(miss?.costNanoUsd).toBe(COST.exact.totalNanoUsd)
    expect(hit).toMatchObject({ status: 'cache_hit', cacheHit: true, costNanoUsd: 0, model: 'gpt-4o-mini' })
    expect(hit?.savedNanoUsd).toBe(COST.exact.totalNanoUsd)
    const report = await manager.querySpend({ groupBy: ['status'] })
    expect(report.costNanoUsd).toBe(String(COST.exact.totalNanoUsd))
    expect(report.savedNanoUsd).toBe(String(COST.exact.totalNanoUsd))
    expect(report.saved).toBe(COST.totalCost)
    const byStatus = Object.fromEntries(report.groups.map((g) => [g.key.status, g.savedNanoUsd]))
    expect(byStatus).toEqual({ cache_hit: String(COST.exact.totalNanoUsd), success: '0' })
  })

  it('10 identical concurrent misses call fn once; the other nine are recorded as hits', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    let calls = 0
    let open!: () => void
    const gate = new Promise<void>((r) => (open = r))
    const ask = withBudget(
      async (prompt: string) => {
        calls++
        await gate
        return { model: 'gpt-4o-mini', text: prompt, usage: USAGE }
      },
      { manager, context: { user: 'alice' }, estimate: ESTIMATE, cache: responseCache() },
    )
    const all = Promise.all(Array.from({ length: 10 }, () => ask('same')))
    await new Promise((r) => setTimeout(r, 20))
    open()
    const answers = await all
    expect(calls).toBe(1)
    expect(new Set(answers.map((a) => a.text))).toEqual(new Set(['same']))
    const records = await manager.spendRecords({})
    expect(records.filter((r) => r.status === 'cache_hit')).toHaveLength(9)
    const report = await manager.querySpend({})
    expect(report.costNanoUsd).toBe(String(COST.exact.totalNanoUsd))
    expect(report.savedNanoUsd).toBe(String(9 * COST.exact.totalNanoUsd))
  })

  it('forgets entries after ttlMs; different arguments are different keys; cacheKey overrides', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    const { state, fn } = counted()
    const ask = withBudget(fn, {
      manager,
      context: { user: 'alice' },
      estimate: ESTIMATE,
      cache: responseCache({ ttlMs: 30 }),
    })
    await ask('a')
    await ask('b')
    expect(state.calls).toBe(2)
    await new Promise((r) => setTimeout(r, 80))
    await ask('a')
    expect(state.calls).toBe(3)
    const keyed = counted()
    const byLength = withBudget(keyed.fn, {
      manager,
      context: { user: 'alice' },
      estimate: ESTIMATE,
      cache: responseCache(),
      cacheKey: (prompt) => `len:${prompt.length}`,
    })
    await byLength('xy')
    expect(await byLength('zz')).toMatchObject({ text: 'XY' })
    expect(keyed.state.calls).toBe(1)
  })

  it('a failed miss is not cached and the waiting callers call on their own', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    let calls = 0
    const ask = withBudget(
      async (prompt: string) => {
        calls++
        await new Promise((r) => setTimeout(r, 10))
        if (calls === 1) throw new Error('boom')
        return { model: 'gpt-4o-mini', text: prompt, usage: USAGE }
      },
      { manager, context: { user: 'alice' }, estimate: ESTIMATE, cache: responseCache() },
    )
    const results = await Promise.allSettled([ask('x'), ask('x'), ask('x')])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected'])
    // The first call failed (released, not cached); the two that waited for it called on their own.
    expect(calls).toBe(3)
    expect((await manager.spendRecords({})).map((r) => r.status)).toEqual(['success', 'success'])
  })

  it('streams are cached and replayed as a stream of the same chunks (async iterable and ReadableStream)', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    const chunks = [{ delta: 'Hel' }, { delta: 'lo' }, { model: 'gpt-4o-mini', usage: USAGE }]
    let calls = 0
    const iterable = withBudget(
      async (_prompt: string) => {
        calls++
        return (async function* () {
          yield* chunks
        })()
      },
      { manager, context: { user: 'alice' }, estimate: ESTIMATE, cache: responseCache() },
    )
    const read = async (stream: AsyncIterable<unknown>) => {
      const out: unknown[] = []
      for await (const chunk of stream) out.push(chunk)
      return out
    }
    expect(await read(await iterable('s'))).toEqual(chunks)
    expect(await read(await iterable('s'))).toEqual(chunks)
    expect(calls).toBe(1)
    const readable = withBudget(
      async (_prompt: string) => {
        calls++
        return new ReadableStream({
          start(c) {
            for (const chunk of chunks) c.enqueue(chunk)
            c.close()
          },
        })
      },
      { manager, context: { user: 'alice' }, estimate: ESTIMATE, cache: responseCache() },
    )
    const first = await readable('r')
    expect(await read(first as unknown as AsyncIterable<unknown>)).toEqual(chunks)
    const replay = await readable('r')
    expect(replay).toBeInstanceOf(ReadableStream)
    expect(await read(replay as unknown as AsyncIterable<unknown>)).toEqual(chunks)
    expect(calls).toBe(2)
    const records = await manager.spendRecords({})
    expect(records.map((r) => r.status)).toEqual(['success', 'cache_hit', 'success', 'cache_hit'])
    expect(records[1]?.savedNanoUsd).toBe(COST.exact.totalNanoUsd)
  })

  it('a stream that is cut (break) is not cached', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    let calls = 0
    const stream = withBudget(
      async (_prompt: string) => {
        calls++
        return (async function* () {
          yield { delta: 'a' }
          yield { delta: 'b' }
          yield { usage: USAGE }
        })()
      },
      { manager, context: { user: 'alice' }, estimate: ESTIMATE, cache: responseCache() },
    )
    for await (const _chunk of await stream('s')) break
    for await (const _chunk of await stream('s')) void _chunk
    expect(calls).toBe(2)
  })

  it('bad input is a typed error and changes nothing', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    const { state, fn } = counted()
    const base = { manager, context: { user: 'alice' }, estimate: ESTIMATE }
    expect(() => withBudget(fn, { ...base, cache: new Map() as never })).toThrow(BudgetConfigError)
    expect(() => withBudget(fn, { ...base, cache: {} as never })).toThrow(/`cache` must be a response cache/)
    expect(() => withBudget(fn, { ...base, cacheKey: 'k' as never })).toThrow(/cacheKey/)
    const badKey = withBudget(fn, { ...base, cache: responseCache(), cacheKey: () => 5 as never })
    await expect(badKey('x')).rejects.toThrow(InvalidInputError)
    expect(state.calls).toBe(0)
    expect(await manager.spendRecords({})).toEqual([])
  })
})

describe('withBudget({ cache }) with a Redis backend (real redis-server)', () => {
  let server: RedisServer
  const clients: Redis[] = []
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(async () => {
    for (const client of clients) client.disconnect()
    await server?.stop()
  })

  it('two instances share hits: the second instance answers from Redis without calling', async () => {
    const instance = () => {
      const client = new Redis(server.port, '127.0.0.1')
      clients.push(client)
      const manager = new BudgetManager({ store: memoryStore() })
      const cache = responseCache({ backend: redisCacheBackend({ client }), prefix: 'test:share:' })
      const { state, fn } = counted()
      return { manager, state, ask: withBudget(fn, { manager, context: { user: 'alice' }, estimate: ESTIMATE, cache }) }
    }
    const a = instance()
    const b = instance()
    const answer = await a.ask('shared')
    expect(await b.ask('shared')).toEqual(answer)
    expect([a.state.calls, b.state.calls]).toEqual([1, 0])
    const [hit] = await b.manager.spendRecords({})
    expect(hit).toMatchObject({ status: 'cache_hit', savedNanoUsd: COST.exact.totalNanoUsd })
    const keys = await clients[0]!.keys('test:share:*')
    expect(keys).toHaveLength(1)
    expect(await clients[0]!.pttl(keys[0]!)).toBeGreaterThan(0)
  })

  it('refuses a client it does not recognise', () => {
    expect(() => redisCacheBackend({ client: {} as never })).toThrow(BudgetConfigError)
  })
})
