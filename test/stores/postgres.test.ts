// postgresStore against a real PostgreSQL started by the test: the store contract, retention with exact rollups,
// versioned migrations (a newer schema is refused), the spend-log columns, and bad options.
import { createHash } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LATEST_SCHEMA_VERSION } from '../../src/stores/postgres/migrations.js'
import { postgresStore } from '../../src/stores/postgres.js'
import { runStoreContract } from '../../src/testing/index.js'
import { type PostgresServer, startPostgresServer } from '../helpers/postgres-server.js'
import { retentionTests } from './retention-cases.js'

let server: PostgresServer
let pool: pg.Pool
const pools: pg.Pool[] = []
let databases = 0

beforeAll(async () => {
  server = await startPostgresServer()
  pool = new pg.Pool({ connectionString: server.url, max: 10 })
  pool.on('error', () => undefined)
  pools.push(pool)
}, 60_000)

afterAll(async () => {
  for (const p of pools) await p.end()
  await server?.stop()
})

/** A pool on a new, empty database. */
async function freshPool(): Promise<pg.Pool> {
  const name = `t${++databases}`
  await pool.query(`CREATE DATABASE ${name}`)
  const fresh = new pg.Pool({ connectionString: server.url.replace(/\/postgres$/, `/${name}`), max: 4 })
  fresh.on('error', () => undefined)
  pools.push(fresh)
  return fresh
}

describe('postgresStore', () => {
  runStoreContract(it, () => postgresStore({ pool }), { concurrency: 1000 })

  retentionTests(async (options) => postgresStore({ pool: await freshPool(), ...options }))

  it('refuses invalid options, naming them', () => {
    expect(() => postgresStore({} as never)).toThrow(/pool/)
    expect(() => postgresStore({ pool, maxRecords: -1 })).toThrow(/maxRecords/)
    expect(() => postgresStore({ pool, migrat: false } as never)).toThrow(/migrate/)
  })

  it('migrates a fresh database once, records the version, and refuses a schema newer than it knows', async () => {
    const db = await freshPool()
    const store = postgresStore({ pool: db })
    expect(await store.migrate()).toEqual({ from: 0, to: LATEST_SCHEMA_VERSION, applied: [1] })
    expect(await store.migrate()).toEqual({ from: LATEST_SCHEMA_VERSION, to: LATEST_SCHEMA_VERSION, applied: [] })
    const { rows } = await db.query('SELECT version FROM llm_budget_schema_version ORDER BY version')
    expect(rows.map((r) => r.version)).toEqual([1])
    await db.query("INSERT INTO llm_budget_schema_version (version, description) VALUES (99, 'from the future')")
    const newer = postgresStore({ pool: db })
    await expect(newer.balances({ keys: ['k'], now: 0 })).rejects.toMatchObject({
      code: 'STORAGE',
      retryable: false,
      message: expect.stringMatching(/version 99, newer than/),
    })
    await expect(newer.migrate()).rejects.toMatchObject({ code: 'STORAGE' })
  })

  it('with migrate: false, refuses to run on a database that was not migrated, and runs once it is', async () => {
    const db = await freshPool()
    const store = postgresStore({ pool: db, migrate: false })
    await expect(store.balances({ keys: ['k'], now: 0 })).rejects.toMatchObject({
      code: 'STORAGE',
      message: expect.stringMatching(/llm-budget migrate/),
    })
    await store.migrate()
    expect(await store.balances({ keys: ['k'], now: 0 })).toEqual([{ spent: 0, reserved: 0 }])
  })

  it('writes a spend-log row with LiteLLM-style columns (hashed key, tags, tokens, exact spend) and no content', async () => {
    const db = await freshPool()
    const store = postgresStore({ pool: db })
    const record = {
      callId: 'log-1',
      startedAt: Date.UTC(2026, 10, 29, 10),
      endedAt: Date.UTC(2026, 10, 29, 10, 0, 2),
      model: 'gpt-4o',
      modelServed: 'gpt-4o-2024-08-06',
      provider: 'openai',
      costNanoUsd: 1_234_567_891,
      status: 'success',
      usage: { inputTokens: 1000, outputTokens: 50, cacheReadTokens: 200 },
      context: { user: 'alice', team: 'search', org: 'acme', key: 'sk-1', endUser: 'eve', tags: ['batch', 'nightly'] },
      metadata: { ticket: 'T-1' },
    }
    await store.commit({
      callId: 'log-1',
      now: record.endedAt,
      entries: [],
      dedupeUntil: record.endedAt + 60_000,
      record,
    })
    const { rows } = await db.query(
      'SELECT request_id, start_time, end_time, model, model_served, provider, prompt_tokens, completion_tokens, total_tokens, cache_read_tokens, spend::text AS spend, "user", team_id, organization_id, api_key, end_user, request_tags, metadata, status FROM llm_budget_spend_logs',
    )
    expect(rows).toEqual([
      {
        request_id: 'log-1',
        start_time: new Date(record.startedAt),
        end_time: new Date(record.endedAt),
        model: 'gpt-4o',
        model_served: 'gpt-4o-2024-08-06',
        provider: 'openai',
        prompt_tokens: '1000',
        completion_tokens: '50',
        total_tokens: '1050',
        cache_read_tokens: '200',
        spend: '1.234567891',
        user: 'alice',
        team_id: 'search',
        organization_id: 'acme',
        api_key: createHash('sha256').update('sk-1').digest('hex'),
        end_user: 'eve',
        request_tags: ['batch', 'nightly'],
        metadata: { ticket: 'T-1' },
        status: 'success',
      },
    ])
    expect(JSON.stringify(rows)).not.toContain('sk-1')
    expect((await store.queryRecords({}))[0]).toEqual(record)
    const daily = await db.query(`SELECT scope, spend_nano_usd FROM llm_budget_daily_spend ORDER BY scope COLLATE "C"`)
    expect(daily.rows.map((r) => [r.scope, r.spend_nano_usd])).toEqual(
      [
        'endUser:eve',
        'global',
        'key:sk-1',
        'org:acme',
        'provider:openai',
        'tag:batch',
        'tag:nightly',
        'team:search',
        'user:alice',
      ].map((s) => [s, '1234567891']),
    )
  })
})
