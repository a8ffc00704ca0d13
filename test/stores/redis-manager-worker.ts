// A worker process for the BudgetManager-on-Redis tests: one BudgetManager on its own Redis client, waits for
// "go" on stdin, runs `calls` concurrent withBudget calls of $0.01 with the given context, and prints how
// many were admitted (and that every refusal was a BudgetExceededError).
//
// argv[2]: { port, prefix, calls, context, client: 'ioredis' | 'node-redis' }
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { isBudgetExceededError } from '../../src/errors.js'
import { workerStore } from './redis-worker-store.js'

const job = JSON.parse(process.argv[2]!) as {
  port: number
  prefix: string
  calls: number
  context: Record<string, string>
  client: 'ioredis' | 'node-redis'
}
const { store, close } = await workerStore(job.port, job.prefix, job.client)
const manager = new BudgetManager({ store })
const call = withBudget(async () => 'ok', { manager, context: job.context, estimate: 0.01, cost: () => 0.01 })
process.stdout.write('ready\n')
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()))
const results = await Promise.allSettled(Array.from({ length: job.calls }, () => call()))
const admitted = results.filter((r) => r.status === 'fulfilled').length
const otherErrors = results
  .filter((r) => r.status === 'rejected' && !isBudgetExceededError(r.reason))
  .map((r) => String((r as PromiseRejectedResult).reason))
process.stdout.write(`${JSON.stringify({ admitted, otherErrors })}\n`)
await close()
