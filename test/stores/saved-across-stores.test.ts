// `saved` (what cache hits would have cost) is kept by every store and summed exactly by querySpend: from the
// records (file store, a real redis-server, the budget server over HTTP) and from the daily rollups once records are
// evicted (memory store with maxRecords).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/index.js'
import { fileStore } from '../../src/stores/file.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { fakeClock } from '../../src/testing/index.js'
import { startBudgetServer, type RunningBudgetServer } from '../helpers/budget-server.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

const DAY = 86_400_000

/** 12 hits saving $0.1 each and 3 paid calls of $0.25: saved 1.2, cost 0.75, by status. */
async function hitsAndCalls(manager: BudgetManager, advance: () => void = () => undefined): Promise<void> {
  for (let i = 0; i < 12; i++)
    await manager.record({ user: 'alice' }, { status: 'cache_hit', saved: 0.1, model: 'gpt-4o-mini' })
  advance()
  for (let i = 0; i < 3; i++) await manager.record({ user: 'alice' }, { cost: 0.25, model: 'gpt-4o-mini' })
}

async function expectSaved(manager: BudgetManager): Promise<void> {
  const report = await manager.querySpend({ scope: 'user:alice', groupBy: ['model'] })
  expect([report.exact.saved, report.savedNanoUsd, report.exact.cost, report.calls]).toEqual([
    '1.200000000',
    '1200000000',
    '0.750000000',
    15,
  ])
  expect(report.saved).toBe(1.2)
  expect(report.groups.map((g) => [g.key.model, g.exact.saved])).toEqual([['gpt-4o-mini', '1.200000000']])
}

async function onStore(store: BudgetStore): Promise<void> {
  try {
    const manager = new BudgetManager({ store })
    await hitsAndCalls(manager)
    await expectSaved(manager)
    const hit = (await manager.spendRecords({})).find((r) => r.status === 'cache_hit')
    expect(hit).toMatchObject({ cacheHit: true, saved: '0.100000000', savedNanoUsd: 100_000_000, costNanoUsd: 0 })
  } finally {
    await store.close()
  }
}

describe('saved in querySpend, per store', () => {
  let redis: RedisServer
  let io: Redis
  let http: RunningBudgetServer
  const dirs: string[] = []
  beforeAll(async () => {
    redis = await startRedisServer()
    io = new Redis(redis.port, '127.0.0.1')
    http = await startBudgetServer({ store: memoryStore(), auth: { tokens: { 'saved-token-0123456789ab': 'saved' } } })
  })
  afterAll(async () => {
    io?.disconnect()
    await redis?.stop()
    await http?.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  it('memory store, records evicted: from the daily rollups', async () => {
    const clock = fakeClock(Date.UTC(2026, 10, 29, 9))
    const store = memoryStore({ maxRecords: 5 })
    const manager = new BudgetManager({ store, clock })
    await hitsAndCalls(manager, () => clock.advance(DAY))
    expect((await store.queryRecords({})).length).toBeLessThanOrEqual(5)
    await expectSaved(manager)
  })

  it('file store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-budget-saved-'))
    dirs.push(dir)
    await onStore(fileStore({ path: dir }))
  })

  it('redis store (real redis-server)', async () => {
    await onStore(redisStore({ client: io, prefix: `saved-${process.pid}` }))
  })

  it('http store (the budget server on 127.0.0.1)', async () => {
    await onStore(httpStore({ url: http.url, token: 'saved-token-0123456789ab', timeoutMs: 30_000 }))
  })

  it('saved is only for a cache hit, and must be a USD number: nothing recorded otherwise', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await expect(manager.record({ user: 'alice' }, { cost: 1, saved: 1 })).rejects.toThrow(/`saved`/)
    await expect(manager.record({ user: 'alice' }, { status: 'cache_hit', saved: -1 })).rejects.toThrow(/`saved`/)
    await expect(manager.record({ user: 'alice' }, { status: 'cache_hit', saved: '1' as never })).rejects.toThrow(
      /`saved`/,
    )
    expect(await manager.spendRecords({})).toEqual([])
  })
})
