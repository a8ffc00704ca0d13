// Totals stay exact after spend records are evicted, in every store that ships with llm-budget (memory, file,
// Redis, HTTP, PostgreSQL, each real: a redis-server and a PostgreSQL the test starts, a budget server on
// 127.0.0.1): getCurrentCost, getModelCost and querySpend agree through the store's daily rollups, and a query the
// rollups cannot answer says it is partial.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { fileStore } from '../../src/stores/file.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { postgresStore } from '../../src/stores/postgres.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { fakeClock } from '../../src/testing/index.js'
import { startBudgetServer } from '../helpers/budget-server.js'
import { type PostgresServer, startPostgresServer } from '../helpers/postgres-server.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'

const DAY = 86_400_000
// In the future, so that no store's physical expiry (Redis keys) takes a window away while the test reads it.
const T0 = Date.UTC(2031, 10, 29, 9)
const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

const root = mkdtempSync(join(tmpdir(), 'llm-budget-spend-retention-'))
let redis: RedisServer
let io: Redis
let postgres: PostgresServer
let admin: pg.Pool
let opened = 0

beforeAll(async () => {
  ;[redis, postgres] = await Promise.all([startRedisServer(), startPostgresServer()])
  io = new Redis(redis.port, '127.0.0.1')
  admin = new pg.Pool({ connectionString: postgres.url, max: 2 })
  admin.on('error', () => undefined)
}, 60_000)

afterAll(async () => {
  io?.disconnect()
  await admin?.end()
  await Promise.all([redis?.stop(), postgres?.stop()])
  rmSync(root, { recursive: true, force: true })
})

/** A store keeping at most `maxRecords` spend records, and how to close it and whatever it needed. */
type Opened = { store: BudgetStore; close(): Promise<void> }

const stores: [string, (maxRecords: number) => Promise<Opened>][] = [
  ['memoryStore', async (maxRecords) => plain(memoryStore({ maxRecords }))],
  ['fileStore', async (maxRecords) => plain(fileStore({ path: join(root, `f${++opened}`), maxRecords }))],
  [
    'redisStore',
    async (maxRecords) =>
      plain(redisStore({ client: io, prefix: `sr${process.pid}-${++opened}`, time: 'client', maxRecords })),
  ],
  [
    'httpStore (server backed by memoryStore)',
    async (maxRecords) => {
      const backing = memoryStore({ maxRecords })
      const token = 'spend-retention-token-0123456789'
      const server = await startBudgetServer({ store: backing, auth: { tokens: { [token]: 'app' } } })
      const store = httpStore({ url: server.url, token, circuitBreaker: false, timeoutMs: 30_000 })
      return {
        store,
        close: async () => {
          await store.close()
          await server.close()
          await backing.close()
        },
      }
    },
  ],
  [
    'postgresStore',
    async (maxRecords) => {
      const name = `spend_retention_${++opened}`
      await admin.query(`CREATE DATABASE ${name}`)
      const pool = new pg.Pool({ connectionString: postgres.url.replace(/\/postgres$/, `/${name}`), max: 4 })
      pool.on('error', () => undefined)
      const store = postgresStore({ pool, maxRecords })
      return {
        store,
        close: async () => {
          await store.close()
          await pool.end()
        },
      }
    },
  ],
]

function plain(store: BudgetStore): Opened {
  return { store, close: () => store.close() }
}

describe.each(stores)('spend past record retention: %s', (_name, open) => {
  async function setup() {
    const clock = fakeClock(T0)
    const opened = await open(10)
    return { clock, ...opened, manager: new BudgetManager({ store: opened.store, clock }) }
  }

  it('25 calls with maxRecords 10: getCurrentCost, getModelCost and querySpend all say 25 calls', async () => {
    const { manager, clock, store, close } = await setup()
    try {
      await manager.createBudget({ user: 'alice', totalBudget: 100, duration: 'daily' })
      for (let i = 0; i < 25; i++) {
        await manager.updateCost({ user: 'alice', cost: 0.01, model: i % 5 === 0 ? 'gpt-4o-mini' : 'gpt-4o' })
        clock.advance(1000)
      }
      expect((await store.queryRecords({})).length).toBeLessThanOrEqual(10)
      expect(await manager.getCurrentCost('alice')).toBe(0.25)
      expect(await manager.getModelCost('alice')).toEqual({ 'gpt-4o': 0.2, 'gpt-4o-mini': 0.05 })
      const report = await manager.querySpend({ scope: 'user:alice', groupBy: ['model'] })
      expect([report.exact.cost, report.calls, report.partial]).toEqual(['0.250000000', 25, false])
      expect(report.groups.map((g) => [g.key.model, g.calls, g.exact.cost])).toEqual([
        ['gpt-4o', 20, '0.200000000'],
        ['gpt-4o-mini', 5, '0.050000000'],
      ])
      const byDay = await manager.querySpend({ groupBy: ['day'] })
      expect(byDay.groups.map((g) => [g.key.day, g.calls])).toEqual([[day(T0), 25]])
      expect((await manager.querySpend({ model: 'gpt-4o-mini', from: T0 - (T0 % DAY) })).calls).toBe(5)
      // Rows that were evicted, asked for by what rollups do not keep (the user grouping, a mid-day start): partial.
      const byUser = await manager.querySpend({ groupBy: ['user'] })
      expect([byUser.partial, byUser.calls <= 10]).toEqual([true, true])
      expect((await manager.querySpend({ from: T0 })).partial).toBe(true)
    } finally {
      await close()
    }
  })

  it('combines rollups of earlier days with the records of later ones, and says partial when it cannot', async () => {
    const { manager, clock, close } = await setup()
    try {
      for (let i = 0; i < 12; i++)
        await manager.record({ user: 'bob', tags: ['batch'] }, { cost: 0.5, model: 'gpt-4o' })
      clock.advance(DAY)
      for (let i = 0; i < 3; i++) await manager.record({ user: 'bob' }, { cost: 1, model: 'gpt-4o' })
      const all = await manager.querySpend({ scope: 'user:bob', groupBy: ['day'] })
      expect([all.exact.cost, all.calls, all.partial]).toEqual(['9.000000000', 15, false])
      expect(all.groups.map((g) => [g.key.day, g.calls, g.exact.cost])).toEqual([
        [day(T0), 12, '6.000000000'],
        [day(T0 + DAY), 3, '3.000000000'],
      ])
      expect((await manager.querySpend({ tags: ['batch'] })).calls).toBe(12)
      // Grouped by user, or from the middle of an evicted day: rollups cannot answer, the records left are a lower
      // bound.
      const byUser = await manager.querySpend({ groupBy: ['user'] })
      expect([byUser.partial, byUser.calls <= 10]).toEqual([true, true])
      const midDay = await manager.querySpend({ from: T0 - 1 })
      expect(midDay.partial).toBe(true)
      // From where records are complete, the records answer alone.
      const recent = await manager.querySpend({ from: T0 + DAY - (T0 % DAY) })
      expect([recent.calls, recent.partial]).toEqual([3, false])
    } finally {
      await close()
    }
  })
})
