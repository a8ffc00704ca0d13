// A worker process for the multi-process PostgreSQL test. Reads one JSON job from argv, opens its own pool, waits
// for "go" on stdin so that every worker starts at once, then prints one JSON line of results.
//
// job: { url, calls, amount, key, limit }
import pg from 'pg'
import { postgresStore } from '../../src/stores/postgres.js'

interface Job {
  url: string
  calls: number
  amount: number
  key: string
  limit: number
}

const job = JSON.parse(process.argv[2]!) as Job
const pool = new pg.Pool({ connectionString: job.url, max: 10 })
const store = postgresStore({ pool })
await store.balances({ keys: [job.key], now: Date.now() })
process.stdout.write('ready\n')
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()))

let admitted = 0
await Promise.all(
  Array.from({ length: job.calls }, async (_, i) => {
    const callId = `${process.pid}-${i}`
    const now = Date.now()
    const result = await store.reserve({
      callId,
      now,
      holdExpiresAt: now + 60_000,
      entries: [{ key: job.key, amount: job.amount, limit: job.limit, expiresAt: null }],
    })
    if (!result.ok) return
    admitted++
    const end = Date.now()
    await store.commit({
      callId,
      now: end,
      entries: [{ key: job.key, amount: job.amount, expiresAt: null }],
      dedupeUntil: end + 3_600_000,
      record: {
        callId,
        startedAt: now,
        endedAt: end,
        model: 'gpt-4o',
        costNanoUsd: job.amount,
        context: { user: 'shared' },
      },
    })
  }),
)
process.stdout.write(`${JSON.stringify({ admitted })}\n`)
await store.close()
await pool.end()
