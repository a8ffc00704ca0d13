// What the multi-process Redis workers (redis-worker.ts, redis-manager-worker.ts) share: a redisStore on a client of
// their own, of the kind the job names, with its clock synced, and the way to close that client.
import { redisStore } from '../../src/stores/redis.js'

/** A worker's store on a new `client` connected to the redis-server on `port`, and a function that closes it. */
export async function workerStore(
  port: number,
  prefix: string,
  client: 'ioredis' | 'node-redis',
): Promise<{ store: ReturnType<typeof redisStore>; close: () => Promise<void> }> {
  // Only the client the job names is loaded: each of the two costs a worker about 0.25 s of CPU to import.
  if (client === 'ioredis') {
    const io = new (await import('ioredis')).Redis(port, '127.0.0.1')
    await io.ping()
    const store = redisStore({ client: io, prefix, timeoutMs: 30_000 })
    await store.syncClock()
    return { store, close: async () => io.disconnect() }
  }
  const node = (await import('redis')).createClient({ url: `redis://127.0.0.1:${port}` })
  await node.connect()
  const store = redisStore({ client: node, prefix, timeoutMs: 30_000 })
  await store.syncClock()
  return { store, close: () => node.close() }
}
