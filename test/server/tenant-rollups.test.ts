// Daily rollups over HTTP are scoped per tenant: two tenants of one budget server (memory, file, Redis and
// PostgreSQL backing stores, each real) spend under the same user, model and tag; each sees only its own rollup rows, whatever scopes it asks for, and
// its spend reports stay exact after the shared store evicted records.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { fileStore } from '../../src/stores/file.js'
import { httpStore, type HttpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { postgresStore } from '../../src/stores/postgres.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore, RollupRow } from '../../src/stores/types.js'
import { fakeClock } from '../../src/testing/index.js'
import { startBudgetServer } from '../helpers/budget-server.js'
import { type PostgresServer, startPostgresServer } from '../helpers/postgres-server.js'
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js'

const TOKEN_A = 'tenant-a-token-0123456789abcdef'
const TOKEN_B = 'tenant-b-token-0123456789abcdef'
// In the future, so that no store's physical expiry (Redis keys) takes a window away while the test reads it.
const T0 = Date.UTC(2031, 10, 29, 9)

const root = mkdtempSync(join(tmpdir(), 'llm-budget-tenant-rollups-'))
let redis: RedisServer
let io: Redis
let postgres: PostgresServer
let admin: pg.Pool
const pools: pg.Pool[] = []
let lastPool: pg.Pool | undefined
let opened = 0

beforeAll(async () => {
  ;[redis, postgres] = await Promise.all([startRedisServer(), startPostgresServer()])
  io = new Redis(redis.port, '127.0.0.1')
  admin = new pg.Pool({ connectionString: postgres.url, max: 2 })
  admin.on('error', () => undefined)
}, 60_000)

afterAll(async () => {
  io?.disconnect()
  for (const pool of pools) await pool.end()
  await admin?.end()
  await Promise.all([redis?.stop(), postgres?.stop()])
  rmSync(root, { recursive: true, force: true })
})

/** A pool on a new, empty database. */
async function freshPool(): Promise<pg.Pool> {
  const name = `tenant_rollups_${++opened}`
  await admin.query(`CREATE DATABASE ${name}`)
  const pool = new pg.Pool({ connectionString: postgres.url.replace(/\/postgres$/, `/${name}`), max: 4 })
  pool.on('error', () => undefined)
  pools.push(pool)
  lastPool = pool
  return pool
}

const backings: [string, () => Promise<BudgetStore>][] = [
  ['memoryStore', async () => memoryStore({ maxRecords: 8 })],
  ['fileStore', async () => fileStore({ path: join(root, `f${++opened}`), maxRecords: 8 })],
  [
    'redisStore',
    async () => redisStore({ client: io, prefix: `tr${process.pid}-${++opened}`, time: 'client', maxRecords: 8 }),
  ],
  ['postgresStore', async () => postgresStore({ pool: await freshPool(), maxRecords: 8 })],
]

const sum = (rows: RollupRow[], field: 'calls' | 'costNanoUsd'): number => rows.reduce((n, r) => n + r[field], 0)

describe.each(backings)('rollups of two tenants on one server backed by %s', (name, makeBacking) => {
  it('each tenant sees only its own rows, under its own scope names, and its reports stay exact', async () => {
    const backing = await makeBacking()
    const server = await startBudgetServer({
      store: backing,
      auth: { tokens: { [TOKEN_A]: 'a', [TOKEN_B]: 'b' } },
    })
    const stores: HttpStore[] = []
    const open = (token: string): HttpStore => {
      const store = httpStore({ url: server.url, token, circuitBreaker: false, timeoutMs: 30_000 })
      stores.push(store)
      return store
    }
    try {
      const a = open(TOKEN_A)
      const b = open(TOKEN_B)
      const clock = fakeClock(T0)
      const managerA = new BudgetManager({ store: a, clock })
      const managerB = new BudgetManager({ store: b, clock })
      // The same user, model and tag in both tenants: 15 calls of $0.01 in a, 10 of $0.50 in b.
      for (let i = 0; i < 15; i++) {
        await managerA.record({ user: 'alice', tags: ['batch'] }, { cost: 0.01, model: 'gpt-4o' })
        clock.advance(1000)
      }
      for (let i = 0; i < 10; i++) {
        await managerB.record({ user: 'alice', tags: ['batch'] }, { cost: 0.5, model: 'gpt-4o' })
        clock.advance(1000)
      }

      for (const [store, calls, cost] of [
        [a, 15, 150_000_000],
        [b, 10, 5_000_000_000],
      ] as const) {
        const all = await store.queryRollups({})
        // Rows for global, user:alice and tag:batch, all under the tenant's own (bare) scope names.
        expect(all.rows.map((r) => r.scope).sort()).toEqual(['global', 'tag:batch', 'user:alice'])
        for (const row of all.rows) expect([row.calls, row.costNanoUsd]).toEqual([calls, cost])
        const alice = await store.queryRollups({ scopes: ['user:alice'] })
        expect([sum(alice.rows, 'calls'), sum(alice.rows, 'costNanoUsd')]).toEqual([calls, cost])
        expect((await store.queryRollups({ scopes: ['user:*', 'tag:*'] })).rows).toHaveLength(2)
        // Records come back without the tenant mark and with the tenant's own call ids.
        for (const record of await store.queryRecords({})) {
          expect(record).not.toHaveProperty('tenant')
          expect(record.callId.startsWith('a/') || record.callId.startsWith('b/')).toBe(false)
        }
      }

      // Naming the other tenant's scopes reaches nothing: they are read inside the asking tenant's namespace.
      expect((await b.queryRollups({ scopes: ['a/user:alice', 'a/global', 'a/user:*'] })).rows).toEqual([])
      // A record that claims another tenant is still rolled up in the sender's.
      await a.commit({
        callId: 'forged',
        now: clock.now(),
        entries: [],
        dedupeUntil: clock.now() + 60_000,
        record: { callId: 'forged', startedAt: clock.now(), endedAt: clock.now(), tenant: 'b', costNanoUsd: 7 },
      })
      expect(sum((await b.queryRollups({ scopes: ['global'] })).rows, 'calls')).toBe(10)
      expect(sum((await a.queryRollups({ scopes: ['global'] })).rows, 'calls')).toBe(16)

      // The shared store keeps one row per tenant and scope, each under `<tenant>/<scope>`.
      const shared = await backing.queryRollups!({ scopes: ['a/user:alice', 'b/user:alice', 'user:alice'] })
      expect(shared.rows.map((r) => [r.scope, r.calls])).toEqual([
        ['a/user:alice', 15],
        ['b/user:alice', 10],
      ])

      if (name === 'postgresStore') {
        // The SQL of docs/stores/postgres.md for one tenant's spend per user, and the tenant in the spend log.
        const perUser = await lastPool!.query(
          `SELECT substr(scope, length('a/user:') + 1) AS "user", sum(spend_nano_usd) / 1e9 AS usd
           FROM llm_budget_daily_spend WHERE scope LIKE 'a/user:%' GROUP BY 1 ORDER BY usd DESC`,
        )
        expect(perUser.rows.map((r: { user: string; usd: string }) => [r.user, Number(r.usd)])).toEqual([
          ['alice', 0.15],
        ])
        const logged = await lastPool!.query(
          "SELECT record->>'tenant' AS tenant, count(*)::int AS n FROM llm_budget_spend_logs GROUP BY 1 ORDER BY 1",
        )
        expect(logged.rows.length).toBeGreaterThan(0)
        for (const row of logged.rows as { tenant: string }[]) expect(['a', 'b']).toContain(row.tenant)
      }

      // The shared store kept 8 of 26 records: each tenant's totals still come out exact, from its rollups.
      expect((await backing.queryRecords({})).length).toBeLessThanOrEqual(8)
      expect(await managerA.getCurrentCost('alice')).toBe(0.15)
      expect(await managerA.getModelCost('alice')).toEqual({ 'gpt-4o': 0.15 })
      expect(await managerB.getModelCost('alice')).toEqual({ 'gpt-4o': 5 })
      const reportA = await managerA.querySpend({ scope: 'user:alice' })
      const reportB = await managerB.querySpend({ tags: ['batch'] })
      expect([reportA.calls, reportA.exact.cost, reportA.partial]).toEqual([15, '0.150000000', false])
      expect([reportB.calls, reportB.exact.cost, reportB.partial]).toEqual([10, '5.000000000', false])
    } finally {
      for (const store of stores) await store.close()
      await server.close()
      await backing.close()
    }
  })

  it('refuses malformed rollup queries with a 400 naming the field, and scopes too long for the tenant prefix', async () => {
    const backing = await makeBacking()
    const server = await startBudgetServer({ store: backing, auth: { tokens: { [TOKEN_A]: 'a' } } })
    const store = httpStore({ url: server.url, token: TOKEN_A, retries: 0 })
    try {
      const post = (body: unknown) =>
        fetch(`${server.url}/v1/rollups`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      const bad = await post({ scopes: 'user:alice' })
      expect(bad.status).toBe(400)
      expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('scopes')
      expect((await post({ from: 'yesterday' })).status).toBe(400)
      const ok = await post({})
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({ rows: [], recordsFrom: null, rollupsFrom: null })
      await expect(store.queryRollups({ scopes: ['x'.repeat(1024)] })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        field: 'scopes[0]',
      })
    } finally {
      await store.close()
      await server.close()
      await backing.close()
    }
  })
})

describe('a server whose store keeps no rollups', () => {
  it('answers 501 and httpStore.queryRollups throws a StorageError saying so', async () => {
    const inner = memoryStore()
    const { queryRollups: _omitted, ...withoutRollups } = inner
    const server = await startBudgetServer({ store: withoutRollups, auth: { tokens: { [TOKEN_A]: 'a' } } })
    const store = httpStore({ url: server.url, token: TOKEN_A, retries: 0 })
    try {
      await expect(store.queryRollups({})).rejects.toMatchObject({
        code: 'STORAGE',
        message: expect.stringMatching(/501 NOT_IMPLEMENTED.*keeps no daily rollups/),
      })
    } finally {
      await store.close()
      await server.close()
      await inner.close()
    }
  })
})
