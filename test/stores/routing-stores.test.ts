// Budget-aware routing is atomic on the shared stores too: 60 concurrent selectDeployment calls against an OpenAI
// budget that holds 23 pick OpenAI exactly 23 times and the other 37 go to the next deployment, on the file store,
// a real redis-server and the budget server over HTTP (each call is one atomic reservation in the store).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager, type Deployment } from '../../src/budget/index.js'
import { estimateCost } from '../../src/cost/index.js'
import { fileStore } from '../../src/stores/file.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { startBudgetServer, type RunningBudgetServer } from '../helpers/budget-server.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

const DEPLOYMENTS: Deployment[] = [
  { id: 'oai-4o', model: 'gpt-4o', provider: 'openai' },
  { id: 'claude', model: 'claude-3-5-sonnet-20241022', provider: 'anthropic' },
]
const ESTIMATE = { inputTokens: 1_000, maxOutputTokens: 500 }
const PER_CALL = estimateCost({ model: 'gpt-4o', ...ESTIMATE }).totalCost // $0.0075

async function sixtyAgainstTwentyThree(store: BudgetStore): Promise<void> {
  try {
    await run(store)
  } finally {
    await store.close()
  }
}

async function run(store: BudgetStore): Promise<void> {
  const manager = new BudgetManager({ store })
  await manager.setProviderBudgets({ openai: { budget_limit: 23 * PER_CALL, time_period: '30d' } })
  const picks = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      manager.selectDeployment(DEPLOYMENTS, {
        context: { user: `u${i % 7}` },
        estimate: ESTIMATE,
        strategy: 'priority',
      }),
    ),
  )
  const counts: Record<string, number> = {}
  for (const p of picks) counts[p.deployment.id] = (counts[p.deployment.id] ?? 0) + 1
  expect(counts).toEqual({ 'oai-4o': 23, claude: 37 })
  const held = await manager.getStatus('provider:openai')
  expect(held.exact.reserved).toBe(((23 * 7_500_000) / 1e9).toFixed(9))
  expect(held.remaining).toBe(0)
  // Commit the OpenAI picks at their estimate, release the rest: spend is exactly 23 calls, nothing held.
  await Promise.all(
    picks.map((p) => (p.deployment.id === 'oai-4o' ? p.reservation.commit(PER_CALL) : p.reservation.release())),
  )
  const after = await manager.getStatus('provider:openai')
  expect([after.exact.spend, after.reserved]).toEqual([((23 * 7_500_000) / 1e9).toFixed(9), 0])
}

describe('selectDeployment on the shared stores', () => {
  const dirs: string[] = []
  let redis: RedisServer
  let io: Redis
  let http: RunningBudgetServer
  beforeAll(async () => {
    redis = await startRedisServer()
    io = new Redis(redis.port, '127.0.0.1')
    http = await startBudgetServer({
      store: memoryStore(),
      auth: { tokens: { 'routing-token-0123456789': 'routing' } },
    })
  })
  afterAll(async () => {
    io?.disconnect()
    await redis?.stop()
    await http?.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  it('file store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-budget-routing-'))
    dirs.push(dir)
    await sixtyAgainstTwentyThree(fileStore({ path: dir }))
  })

  it('redis store (real redis-server)', async () => {
    await sixtyAgainstTwentyThree(redisStore({ client: io, prefix: `routing-${process.pid}` }))
  })

  it('http store (the budget server on 127.0.0.1)', async () => {
    await sixtyAgainstTwentyThree(
      httpStore({ url: http.url, token: 'routing-token-0123456789', timeoutMs: 30_000, circuitBreaker: false }),
    )
  })
})
