// postgresStore on loopback, side by side with pgbench on the same server in the same run:
//   1. admitted calls per second (reserve + commit with a spend record) with 4 scopes per call and 100 calls in
//      flight from one process, next to `pgbench -N` (simple-update) transactions per second, and their ratio;
//   2. report queries over 1,000,000 spend-log rows (loaded with one INSERT ... SELECT; the daily rollups built
//      from them), timed as the median of 5 runs.
// Starts its own PostgreSQL (fsync on, the durable default) through test/helpers/postgres-server.ts.
//
// Usage: npm run build && node bench/postgres.bench.mjs   (CALLS=5000 ROWS=1000000 PGBENCH_SECONDS=15 FSYNC=off)
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import pg from 'pg'
import { register } from 'tsx/esm/api'

register()
const { startPostgresServer } = await import('../test/helpers/postgres-server.ts')
const { postgresStore } = await import('../dist/postgres.js')
const { BudgetManager } = await import('../dist/index.js')

const CALLS = Number(process.env.CALLS ?? 5_000)
const ROWS = Number(process.env.ROWS ?? 1_000_000)
const PGBENCH_SECONDS = Number(process.env.PGBENCH_SECONDS ?? 15)
const IN_FLIGHT = 100
const POOL = 20

const FSYNC = process.env.FSYNC !== 'off'
const server = await startPostgresServer({ fsync: FSYNC, settings: { shared_buffers: '256MB', max_wal_size: '2GB' } })
const pool = new pg.Pool({ connectionString: server.url, max: POOL })
pool.on('error', () => {})
const version = (await pool.query('SHOW server_version')).rows[0].server_version

try {
  // ---------------------------------------------------------------------------------------------- admission
  const store = postgresStore({ pool })
  await store.migrate()
  const keys = [
    'o:acme|d2026-12-06|usd',
    't:search|d2026-12-06|usd',
    'u:alice|d2026-12-06|usd',
    'k:sk-1|d2026-12-06|usd',
  ]
  const expiresAt = Date.now() + 2 * 86_400_000
  const oneCall = async (run, i) => {
    const callId = `bench-${run}-${i}`
    const now = Date.now()
    const r = await store.reserve({
      callId,
      now,
      holdExpiresAt: now + 600_000,
      entries: keys.map((key) => ({ key, amount: 1_000, limit: 1e15, expiresAt })),
    })
    if (!r.ok) throw new Error('refused')
    const end = Date.now()
    await store.commit({
      callId,
      now: end,
      entries: keys.map((key) => ({ key, amount: 900, expiresAt })),
      dedupeUntil: end + 120_000,
      record: {
        callId,
        startedAt: now,
        endedAt: end,
        model: 'gpt-4o',
        modelServed: 'gpt-4o',
        provider: 'openai',
        costNanoUsd: 900,
        usage: { inputTokens: 100, outputTokens: 20 },
        context: { user: 'alice', team: 'search', org: 'acme', key: 'sk-1' },
      },
    })
  }
  let runs = 0
  const run = async (count) => {
    const id = ++runs
    let next = 0
    const latencies = []
    const worker = async () => {
      while (next < count) {
        const i = next++
        const t = performance.now()
        await oneCall(id, i)
        latencies.push(performance.now() - t)
      }
    }
    const start = performance.now()
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
    const seconds = (performance.now() - start) / 1000
    latencies.sort((a, b) => a - b)
    return {
      perSecond: count / seconds,
      p50: latencies[Math.floor(latencies.length / 2)],
      p99: latencies[Math.floor(latencies.length * 0.99)],
    }
  }
  await run(500) // warm-up (also creates the key rows)
  const ours = await run(CALLS)
  const spent = (await store.balances({ keys: [keys[0]], now: Date.now() }))[0].spent
  if (spent !== 900 * (CALLS + 500)) throw new Error(`spent ${spent}, expected ${900 * (CALLS + 500)}`)

  const pgbench = join(server.bin, 'pgbench')
  const env = {
    ...process.env,
    PGHOST: '127.0.0.1',
    PGPORT: String(server.port),
    PGUSER: 'postgres',
    PGDATABASE: 'postgres',
  }
  const init = spawnSync(pgbench, ['-i', '-q', '-s', '10'], { env, encoding: 'utf8' })
  if (init.status !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`)
  const bench = spawnSync(pgbench, ['-N', '-c', String(POOL), '-j', '2', '-T', String(PGBENCH_SECONDS), '-n'], {
    env,
    encoding: 'utf8',
  })
  if (bench.status !== 0) throw new Error(`pgbench -N failed: ${bench.stderr}`)
  const tps = Number(/tps = ([\d.]+)/.exec(bench.stdout)[1])

  console.log(
    `PostgreSQL ${version} on loopback, fsync ${FSYNC ? 'on' : 'off'}, synchronous_commit on; ${POOL} connections; ${IN_FLIGHT} calls in flight`,
  )
  console.log('')
  console.log('| what | per second | p50 ms | p99 ms |')
  console.log('|---|---:|---:|---:|')
  console.log(
    `| postgresStore admitted calls (reserve + commit with record, 4 scopes) | ${ours.perSecond.toFixed(0)} | ${ours.p50.toFixed(2)} | ${ours.p99.toFixed(2)} |`,
  )
  console.log(`| pgbench -N (simple-update) transactions, ${POOL} clients | ${tps.toFixed(0)} | | |`)
  console.log('')
  console.log(
    `ratio: ${(ours.perSecond / tps).toFixed(3)} admitted calls per pgbench transaction (each call is 2 transactions: ${((2 * ours.perSecond) / tps).toFixed(3)} of pgbench's transaction rate)`,
  )

  // ---------------------------------------------------------------------------------------------- reports
  const db = 'reports'
  await pool.query(`CREATE DATABASE ${db}`)
  const reportPool = new pg.Pool({ connectionString: server.url.replace(/\/postgres$/, `/${db}`), max: 4 })
  reportPool.on('error', () => {})
  const reportStore = postgresStore({ pool: reportPool })
  await reportStore.migrate()
  const day0 = Date.UTC(2026, 10, 1)
  const loadStart = performance.now()
  // 1,000,000 calls over 30 days: 1,000 users in 50 teams, 5 models, a tag on every tenth call.
  await reportPool.query(
    `INSERT INTO llm_budget_spend_logs (request_id, start_time, end_time, ended_at_ms, model, model_served, provider, prompt_tokens,
       completion_tokens, total_tokens, spend, spend_nano_usd, "user", team_id, organization_id, api_key, request_tags, metadata, status, record)
     SELECT 'r' || i, to_timestamp(t / 1000.0), to_timestamp(t / 1000.0), t, m, m, 'openai', 500, 100, 600, nano / 1e9, nano,
            'u' || (i % 1000), 't' || (i % 50), 'acme', md5('k' || (i % 200)), CASE WHEN i % 10 = 0 THEN ARRAY['batch'] ELSE '{}' END, '{}', 'success',
            json_build_object('callId', 'r' || i, 'startedAt', t, 'endedAt', t, 'model', m, 'costNanoUsd', nano, 'context', json_build_object('user', 'u' || (i % 1000), 'team', 't' || (i % 50)))
     FROM (SELECT i, ${day0}::float8 + (i::float8 * 2592000000 / $1) AS t, (ARRAY['gpt-4o','gpt-4o-mini','claude-sonnet-4','gemini-2.5-pro','o3'])[1 + i % 5] AS m,
                  1000000 + (i % 997) * 1000 AS nano FROM generate_series(1, $1) AS i) s`,
    [ROWS],
  )
  await reportPool.query(
    `INSERT INTO llm_budget_daily_spend (day, scope, model, model_served, calls, input_tokens, output_tokens, spend_nano_usd, saved_nano_usd, estimated_calls)
     SELECT (end_time AT TIME ZONE 'UTC')::date, s.scope, model, model_served, count(*), sum(prompt_tokens), sum(completion_tokens), sum(spend_nano_usd), 0, 0
     FROM llm_budget_spend_logs, LATERAL (VALUES ('global'), ('user:' || "user"), ('team:' || team_id), ('org:' || organization_id)) AS s(scope)
     GROUP BY 1, 2, 3, 4`,
  )
  await reportPool.query('VACUUM ANALYZE')
  const loadSeconds = (performance.now() - loadStart) / 1000
  const size = (
    await reportPool.query(
      `SELECT pg_size_pretty(pg_total_relation_size('llm_budget_spend_logs')) AS logs, pg_size_pretty(pg_total_relation_size('llm_budget_daily_spend')) AS daily, (SELECT count(*) FROM llm_budget_daily_spend) AS rows`,
    )
  ).rows[0]

  const median = async (fn) => {
    const times = []
    let result
    for (let i = 0; i < 5; i++) {
      const t = performance.now()
      result = await fn()
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    return { ms: times[2], result }
  }
  const from = day0 + 10 * 86_400_000
  const to = day0 + 20 * 86_400_000
  const manager = new BudgetManager({ store: reportStore })
  const queries = [
    [
      'SQL: spend per user, 10 days, from the spend log',
      () =>
        reportPool.query(
          `SELECT "user", sum(spend) FROM llm_budget_spend_logs WHERE end_time >= to_timestamp(${from / 1000}) AND end_time < to_timestamp(${to / 1000}) GROUP BY 1`,
        ),
      (r) => `${r.rowCount} users`,
    ],
    [
      'SQL: spend per team and day, 30 days, from the daily rollups',
      () => reportPool.query(`SELECT team_id, day, sum(spend) FROM llm_budget_daily_team_spend GROUP BY 1, 2`),
      (r) => `${r.rowCount} rows`,
    ],
    [
      "SQL: one user's calls of one day, from the spend log",
      () =>
        reportPool.query(
          `SELECT request_id, spend FROM llm_budget_spend_logs WHERE "user" = 'u42' AND end_time >= to_timestamp(${from / 1000}) AND end_time < to_timestamp(${(from + 86_400_000) / 1000})`,
        ),
      (r) => `${r.rowCount} calls`,
    ],
    [
      'queryRollups: every user, 30 days',
      () => reportStore.queryRollups({ scopes: ['user:*'] }),
      (r) => `${r.rows.length} rows`,
    ],
    // The manager reads every record of the range and filters in JavaScript: one day here (about 33,000 records).
    [
      "querySpend: user u42 by model, 1 day (reads the day's records)",
      () => manager.querySpend({ scope: 'user:u42', from, to: from + 86_400_000, groupBy: ['model'] }),
      (r) => `${r.calls} calls`,
    ],
    [
      'queryRecords: one hour',
      () => reportStore.queryRecords({ from, to: from + 3_600_000 }),
      (r) => `${r.length} records`,
    ],
  ]
  console.log('')
  console.log(
    `${ROWS.toLocaleString('en')} spend-log rows loaded in ${loadSeconds.toFixed(1)} s: spend log ${size.logs}, daily rollups ${size.daily} (${size.rows} rows)`,
  )
  console.log('')
  console.log('| report query | median of 5, ms | result |')
  console.log('|---|---:|---|')
  for (const [label, fn, describe] of queries) {
    const { ms, result } = await median(fn)
    console.log(`| ${label} | ${ms.toFixed(1)} | ${describe(result)} |`)
  }
  await reportStore.close()
  await reportPool.end()
  await store.close()
} finally {
  await pool.end()
  await server.stop()
}
