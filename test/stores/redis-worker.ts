// A worker process for the multi-process Redis tests. Reads one JSON job from argv, connects its own
// client, waits for "go" on stdin so that every worker starts at once, then prints one JSON line of results.
//
// job: { port, prefix, calls, amount, keys: [{ key, limit }], client: 'ioredis' | 'node-redis' }
import { workerStore } from './redis-worker-store.js'

interface Job {
  port: number
  prefix: string
  calls: number
  amount: number
  keys: { key: string; limit: number | null }[]
  client: 'ioredis' | 'node-redis'
}

const job = JSON.parse(process.argv[2]!) as Job
const { store, close } = await workerStore(job.port, job.prefix, job.client)
process.stdout.write('ready\n')
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()))

const admitted: string[] = []
await Promise.all(
  Array.from({ length: job.calls }, async (_, i) => {
    const callId = `${process.pid}-${i}`
    const now = store.clock.now()
    const result = await store.reserve({
      callId,
      now,
      holdExpiresAt: now + 60_000,
      entries: job.keys.map(({ key, limit }) => ({ key, amount: job.amount, limit, expiresAt: now + 3_600_000 })),
    })
    if (!result.ok) return
    admitted.push(callId)
    await store.commit({
      callId,
      now: store.clock.now(),
      entries: job.keys.map(({ key }) => ({ key, amount: job.amount, expiresAt: now + 3_600_000 })),
      dedupeUntil: now + 3_600_000,
    })
  }),
)
process.stdout.write(`${JSON.stringify({ admitted: admitted.length })}\n`)
await close()
