// The Redis store on a real Redis Cluster whose topology changes under load: the store's slot resharded to
// another master (MIGRATE key by key: MOVED, ASK and TRYAGAIN answers during the move), and its master failed
// over to its replica (CLUSTER FAILOVER). A burst of 4-key reservations and commits runs through each change:
// never more admitted than the limit, every acknowledged commit counted exactly once, no hold left, no data
// reported lost, and the store works on the new owner afterwards.
import { Cluster, Redis } from 'ioredis'
import { createCluster } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isStorageError } from '../../src/errors.js'
import { redisStore, type RedisStore } from '../../src/stores/redis.js'
import { startRedisCluster, type RedisCluster, type RedisClusterNode } from '../helpers/redis-cluster.js'

let cluster: RedisCluster

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 })
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

const clients = {
  ioredis: () => {
    const client = new Cluster(
      cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { slotsRefreshTimeout: 500, clusterRetryStrategy: (times) => Math.min(100 * times, 500) },
    )
    client.on('error', () => undefined)
    return { client, close: async () => client.disconnect() }
  },
  'node-redis': async () => {
    const client = createCluster({
      rootNodes: cluster.nodes.map((n) => ({ url: `redis://127.0.0.1:${n.port}` })),
      defaults: {
        socket: { connectTimeout: 500, reconnectStrategy: (retries: number) => Math.min(100 * (retries + 1), 500) },
      },
    })
    client.on('error', () => undefined)
    await client.connect()
    return { client, close: () => client.close().catch(() => undefined) }
  },
}

let n = 0
/** A prefix whose slot a master owns, found by trying names. */
async function prefixOnMaster(): Promise<{ prefix: string; owner: RedisClusterNode }> {
  for (;;) {
    const prefix = `mv${process.pid}-${n++}`
    const owner = await cluster.ownerOf(`{${prefix}}:b`)
    return { prefix, owner }
  }
}

/** Moves a slot to another master key by key, as `redis-cli --cluster reshard` does, with pauses in between. */
async function moveSlot(slot: number, from: RedisClusterNode, to: RedisClusterNode): Promise<number> {
  const [fromId, toId] = await Promise.all([cluster.idOf(from), cluster.idOf(to)])
  const source = new Redis(from.port, '127.0.0.1')
  const target = new Redis(to.port, '127.0.0.1')
  let moved = 0
  try {
    await target.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId)
    await source.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId)
    for (;;) {
      const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '2')) as string[]
      if (keys.length === 0) break
      await source.call('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'REPLACE', 'KEYS', ...keys)
      moved += keys.length
      await sleep(5)
    }
    for (const node of cluster.nodes) {
      if (node.pid === null) continue
      const admin = new Redis(node.port, '127.0.0.1')
      const role = String(await admin.call('ROLE').then((r) => (r as unknown[])[0]))
      if (role === 'master') await admin.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', toId)
      admin.disconnect()
    }
  } finally {
    source.disconnect()
    target.disconnect()
  }
  return moved
}

const KEYS = ['user:alice|d|usd', 'team:core|d|usd', 'org:acme|d|usd', 'global|d|usd']
const LIMIT = 300

/**
 * A burst of `calls` 4-key calls of 1 each (reserve, then commit) against a limit of 300 on every key, 25 in
 * flight, while `during()` runs. Answers the acknowledged commits and the errors. A commit that fails is sent again
 * (for up to 20 s, as a caller settling its call does; a commit applied before is answered as a duplicate): a
 * reserved call whose commit never reached Redis would otherwise hold its amounts for the hold's 10 minutes.
 */
async function burst(store: RedisStore, tag: string, calls: number, during: () => Promise<unknown>) {
  let next = 0
  let committed = 0
  let refused = 0
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    while (next < calls) {
      const callId = `${tag}-${next++}`
      const now = Date.now()
      try {
        const r = await store.reserve({
          callId,
          now,
          holdExpiresAt: now + 600_000,
          entries: KEYS.map((key) => ({ key, amount: 1, limit: LIMIT, expiresAt: null })),
        })
        if (!r.ok) {
          refused++
          continue
        }
        const settleBy = Date.now() + 20_000
        for (;;) {
          try {
            await store.commit({
              callId,
              now: Date.now(),
              entries: KEYS.map((key) => ({ key, amount: 1, expiresAt: null })),
              dedupeUntil: now + 600_000,
              record: { callId, startedAt: now, endedAt: now },
            })
            break
          } catch (error) {
            if (!isStorageError(error) || Date.now() > settleBy) throw error
            errors.push(error)
            await sleep(100)
          }
        }
        committed++
      } catch (error) {
        errors.push(error)
      }
      await sleep(2)
    }
  }
  const [, changed] = await Promise.all([Promise.all(Array.from({ length: 25 }, worker)), during()])
  return { committed, refused, errors, changed }
}

async function until(what: string, condition: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await condition().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

describe.each(['ioredis', 'node-redis'] as const)('Redis Cluster topology changes under load (%s)', (kind) => {
  it("resharding the store's slot to another master: MOVED/ASK/TRYAGAIN, nothing over the limit, every commit counted once", async () => {
    const { client, close } = await clients[kind]()
    try {
      const { prefix, owner } = await prefixOnMaster()
      const slot = cluster.slotOf(`{${prefix}}:b`)
      const masters = []
      for (const node of cluster.nodes)
        if ((await cluster.cli(node.port, 'ROLE')).startsWith('master')) masters.push(node)
      const to = masters.find((m) => m !== owner)!
      const store = redisStore({ client: client as never, prefix, timeoutMs: 3000, time: 'client' })
      // some spend before the move, so the ledger keys exist and travel
      const before = await burst(store, 'pre', 20, async () => undefined)
      expect(before.errors).toEqual([])
      const during = await burst(store, 'move', 400, () => moveSlot(slot, owner, to))
      console.log(
        `${kind} reshard: ${during.changed} keys moved; ${during.committed} committed, ${during.refused} refused, ${during.errors.length} failed (${[...new Set(during.errors.map((e) => String(e).slice(0, 90)))].join(' | ')})`,
      )
      for (const error of during.errors) {
        expect(isStorageError(error), String(error)).toBe(true)
        expect(String(error)).not.toMatch(/lost the store's data/)
      }
      expect(await cluster.ownerOf(`{${prefix}}:b`)).toBe(to)
      const committed = before.committed + during.committed
      // reservations that timed out may have run later: the store releases them itself
      await until('no hold left', async () =>
        (await store.balances({ keys: KEYS, now: Date.now() })).every((b) => b.reserved === 0),
      )
      const balances = await store.balances({ keys: KEYS, now: Date.now() })
      for (const b of balances) {
        expect(b.spent).toBeLessThanOrEqual(LIMIT)
        // a commit whose answer was lost may have been applied: at least every acknowledged one, never more than tried
        expect(b.spent).toBeGreaterThanOrEqual(committed)
      }
      expect(new Set(balances.map((b) => b.spent)).size).toBe(1) // each call counted on all 4 keys or none
      // the store works on the new owner, and its data is there
      const after = await burst(store, 'post', 10, async () => undefined)
      expect(after.errors).toEqual([])
      expect((await store.queryRecords({})).length).toBe(balances[0]!.spent + after.committed)
    } finally {
      await close()
    }
  }, 120_000)

  it("failing the store's master over to its replica (CLUSTER FAILOVER) under load: nothing over the limit, nothing lost", async () => {
    const { client, close } = await clients[kind]()
    try {
      const { prefix, owner } = await prefixOnMaster()
      const [replica] = await cluster.replicasOf(owner)
      expect(replica).toBeDefined()
      const store = redisStore({ client: client as never, prefix, timeoutMs: 3000, time: 'client' })
      const before = await burst(store, 'pre', 20, async () => undefined)
      expect(before.errors).toEqual([])
      const during = await burst(store, 'fo', 400, async () => {
        await sleep(100)
        await cluster.cli(replica!.port, 'CLUSTER', 'FAILOVER')
        await until('the replica to become master', async () =>
          (await cluster.cli(replica!.port, 'ROLE')).startsWith('master'),
        )
      })
      console.log(
        `${kind} failover: ${during.committed} committed, ${during.refused} refused, ${during.errors.length} failed (${[...new Set(during.errors.map((e) => String(e).slice(0, 90)))].join(' | ')})`,
      )
      for (const error of during.errors) {
        expect(isStorageError(error), String(error)).toBe(true)
        expect(String(error)).not.toMatch(/lost the store's data/)
      }
      await until('the new master to serve the slot', async () => (await cluster.ownerOf(`{${prefix}}:b`)) === replica)
      await until('no hold left', async () =>
        (await store.balances({ keys: KEYS, now: Date.now() })).every((b) => b.reserved === 0),
      )
      const balances = await store.balances({ keys: KEYS, now: Date.now() })
      const committed = before.committed + during.committed
      for (const b of balances) {
        expect(b.spent).toBeLessThanOrEqual(LIMIT)
        expect(b.spent).toBeGreaterThanOrEqual(committed)
      }
      const after = await burst(store, 'post', 10, async () => undefined)
      expect(after.errors).toEqual([])
    } finally {
      await close()
    }
  }, 120_000)
})
