// What retention costs: bytes per spend record and per daily rollup row, measured in each store that keeps them.
//   - memoryStore (and the file store's in-memory ledger, which is the same): V8 heap after a full GC, before and
//     after N commits (`node --expose-gc`, as `npm run bench` runs every file);
//   - fileStore: snapshot bytes after a compaction, and journal bytes per commit before it;
//   - redisStore: `MEMORY USAGE ... SAMPLES 0` of the record stream and of the rollup day hashes, on a redis-server
//     started here;
//   - postgresStore: `pg_total_relation_size` (table, TOAST and indexes) of the spend-log and daily-rollup tables
//     after `VACUUM`, on a PostgreSQL started here.
// Records are real manager records (a `record()` with user, team, org, key, tags, provider, usage) committed with
// fresh call ids; in the record runs every record falls into the same few rollup rows. In the rollup runs each
// call names a new user (one new `user:` row; the `global`, team and tag rows are shared) and no record is kept
// (`maxRecords: 0`), so the growth is rollup rows alone.
//
// Usage: npm run build && node --expose-gc bench/retention-size.bench.mjs   (N=20000)
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { register } from 'tsx/esm/api'

register()
const { startPostgresServer } = await import('../test/helpers/postgres-server.ts')
const { startRedisServer } = await import('../test/helpers/redis-server.ts')
const { BudgetManager } = await import('../dist/index.js')
const { memoryStore } = await import('../dist/index.js')
const { fileStore } = await import('../dist/file.js')
const { redisStore } = await import('../dist/redis.js')
const { postgresStore } = await import('../dist/postgres.js')

const N = Number(process.env.N ?? 20_000)
const T0 = Date.UTC(2031, 0, 10, 9)

// One real record, as the manager writes it.
const sample = memoryStore()
await new BudgetManager({ store: sample, clock: { now: () => T0 } }).record(
  { user: 'alice', team: 'search', org: 'acme', key: 'sk-live-1', tags: ['batch', 'eu'] },
  { model: 'gpt-4o', provider: 'openai', usage: { inputTokens: 1200, outputTokens: 340 } },
)
const template = (await sample.queryRecords({}))[0]
const templateBytes = Buffer.byteLength(JSON.stringify(template))

/** The i-th commit: a copy of the record with its own call id and instant; `user` overrides the user. */
function commitOf(i, user) {
  const callId = `c-${i.toString(36)}-${'x'.repeat(24)}`
  const at = T0 + i
  const record = { ...structuredClone(template), callId, startedAt: at - 800, endedAt: at }
  if (user !== undefined) record.context = { ...record.context, user }
  return { callId, now: at, entries: [], dedupeUntil: at, record }
}

async function commitAll(store, user, concurrency = 1) {
  let next = 0
  const worker = async () => {
    while (next < N) {
      const i = next++
      await store.commit(commitOf(i, user ? `user-${i.toString(36).padStart(6, '0')}` : undefined))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

const heap = () => {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

const rows = []
const row = (store, what, bytes, count, how) =>
  rows.push({ store, what, 'bytes each': Math.round(bytes / count), count, how })

// ------------------------------------------------------------------------------------------------ memory
// Each run in its own function, so that the previous run's store is garbage before the next one starts.
async function measureMemory(users) {
  const before = heap()
  const store = memoryStore({ maxRecords: users ? 0 : N })
  await commitAll(store, users)
  const after = heap()
  const count = users ? (await store.queryRollups({})).rows.length : (await store.queryRecords({})).length
  row('memory (and file, in memory)', users ? 'rollup row' : 'record', after - before, count, 'V8 heap after GC')
  await store.close()
}
await measureMemory(false)
await measureMemory(true)

// ------------------------------------------------------------------------------------------------ file
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-retention-size-'))
try {
  for (const users of [false, true]) {
    const path = join(dir, users ? 'rollups' : 'records')
    const store = fileStore({ path, maxRecords: users ? 0 : N, durability: 'batch', compactBytes: Infinity })
    await commitAll(store, users, 64)
    const journal = statSync(join(path, 'journal.log')).size
    if (!users) row('file', 'record (journal, until compacted)', journal, N, 'journal.log bytes / commits')
    await store.compact()
    const snapshot = readdirSync(path).find((name) => name.startsWith('snapshot-'))
    const bytes = statSync(join(path, snapshot)).size
    const count = users ? (await store.queryRollups({})).rows.length : (await store.queryRecords({})).length
    row('file', users ? 'rollup row (snapshot)' : 'record (snapshot)', bytes, count, 'snapshot bytes after compact()')
    await store.close()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// ------------------------------------------------------------------------------------------------ redis
const redis = await startRedisServer()
const io = new Redis(redis.port, '127.0.0.1')
try {
  // The store's own keys of one kind (the record stream, or the rollup day hashes and their index), measured with
  // MEMORY USAGE ... SAMPLES 0 (every element): call ids remembered for the dedupe window are not counted here.
  const usage = async (prefix, wanted) => {
    let total = 0
    for await (const keys of io.scanStream({ match: `*${prefix}*`, count: 1000 })) {
      for (const key of keys) if (wanted(key)) total += Number(await io.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'))
    }
    return total
  }
  for (const users of [false, true]) {
    const prefix = `size-${users}`
    const store = redisStore({ client: io, prefix, time: 'client', maxRecords: users ? 0 : N })
    await commitAll(store, users, 64)
    const bytes = users
      ? await usage(prefix, (key) => /:u:|:ud$/.test(key))
      : await usage(prefix, (key) => key.endsWith(':r'))
    const count = users ? (await store.queryRollups({})).rows.length : (await store.queryRecords({})).length
    row(
      'redis',
      users ? 'rollup row' : 'record',
      bytes,
      count,
      users ? 'MEMORY USAGE of :u:<day> and :ud' : 'MEMORY USAGE of :r',
    )
    await store.close()
  }
} finally {
  io.disconnect()
  await redis.stop()
}

// ------------------------------------------------------------------------------------------------ postgres
const postgres = await startPostgresServer({ fsync: false })
const admin = new pg.Pool({ connectionString: postgres.url, max: 2 })
admin.on('error', () => {})
try {
  for (const users of [false, true]) {
    const name = users ? 'size_rollups' : 'size_records'
    await admin.query(`CREATE DATABASE ${name}`)
    const pool = new pg.Pool({ connectionString: postgres.url.replace(/\/postgres$/, `/${name}`), max: 16 })
    pool.on('error', () => {})
    const store = postgresStore({ pool, maxRecords: users ? 0 : Number.POSITIVE_INFINITY })
    await store.migrate()
    await commitAll(store, users, 16)
    await pool.query('VACUUM ANALYZE')
    const table = users ? 'llm_budget_daily_spend' : 'llm_budget_spend_logs'
    const bytes = Number((await pool.query(`SELECT pg_total_relation_size('${table}') AS b`)).rows[0].b)
    const count = Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
    row('postgres', users ? 'rollup row' : 'record', bytes, count, `pg_total_relation_size(${table})`)
    await store.close()
    await pool.end()
  }
} finally {
  await admin.end()
  await postgres.stop()
}

console.log(`N = ${N} commits per run; the record is ${templateBytes} bytes of JSON:`)
console.log(JSON.stringify(template))
console.table(rows)
