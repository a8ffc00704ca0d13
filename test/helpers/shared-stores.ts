/**
 * The memory, file and Redis stores side by side, for tests that check a budget behaviour on every store the
 * ledger runs in: one real `redis-server` and temporary directories, all started and removed with the suite.
 * Call {@link storesForSuite} at the top level of a test file.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { startRedisServer, type RedisServer } from './redis-server.js'

/** A named store factory: each call gives a fresh, empty store. */
export type StoreCase = [name: string, make: () => BudgetStore & { close?(): Promise<void> }]

/**
 * Registers the suite's Redis server and temp directories; returns a fresh-store factory per store, and the Redis
 * client (for tests that look at the keys themselves).
 */
export function storesForSuite(label: string): { stores: StoreCase[]; redis: () => Redis } {
  const suite = redisForSuite()
  const dirs: string[] = []
  let seq = 0
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })
  const stores: StoreCase[] = [
    ['memory', () => memoryStore()],
    [
      'file',
      () => {
        const dir = mkdtempSync(join(tmpdir(), `llm-budget-${label}-`))
        dirs.push(dir)
        return fileStore({ path: dir })
      },
    ],
    ['redis', () => redisStore({ client: suite.io, prefix: `${label}-${process.pid}-${++seq}` })],
  ]
  return { stores, redis: () => suite.io }
}

/**
 * One real `redis-server` and an ioredis client on it for a whole test file, started before its tests and stopped
 * after them. Read `server` and `io` inside tests and hooks (they are set once the suite has started).
 */
export function redisForSuite(): { readonly server: RedisServer; readonly io: Redis } {
  const suite = {} as { server: RedisServer; io: Redis }
  beforeAll(async () => {
    suite.server = await startRedisServer()
    suite.io = new Redis(suite.server.port, '127.0.0.1')
  })
  afterAll(async () => {
    suite.io?.disconnect()
    await suite.server?.stop()
  })
  return suite
}
