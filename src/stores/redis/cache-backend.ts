/**
 * `redisCacheBackend({ client })`: the shared backend of a response cache (`responseCache({ backend })`), so that
 * every instance talking to the same Redis answers from the same entries. Entries are plain `SET key value PX ttl`
 * strings; this module imports neither `ioredis` nor `redis`.
 *
 * @packageDocumentation
 */
import { BudgetConfigError } from '../../errors.js'
import { describeValue } from '../../internal/describe.js'
import { adaptClient, type RedisClientLike } from './client.js'

/** Options of {@link redisCacheBackend}. */
export interface RedisCacheBackendOptions {
  /** A connected Redis client: ioredis (`Redis`, `Cluster`) or node-redis (`createClient`, `createCluster`). */
  client: RedisClientLike
}

/** A response cache backend on Redis (the shape `responseCache({ backend })` takes). */
export interface RedisCacheBackend {
  /** The entry's JSON text, or `null`. */
  get(key: string): Promise<string | null>
  /** Stores the entry's JSON text for `ttlMs` milliseconds. */
  set(key: string, value: string, ttlMs: number): Promise<void>
  /** Deletes an entry (a damaged one). */
  delete(key: string): Promise<void>
}

/**
 * A Redis-backed response cache backend: hits are shared across instances (each still keeps its own memory LRU in
 * front of it).
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { responseCache } from 'llm-budget'
 * import { redisCacheBackend } from 'llm-budget/redis'
 *
 * const cache = responseCache({ ttlMs: 600_000, backend: redisCacheBackend({ client: new Redis() }) })
 * ```
 * @throws BudgetConfigError when `client` is not a Redis client the store recognises.
 */
export function redisCacheBackend(options: RedisCacheBackendOptions): RedisCacheBackend {
  const client = (options as Partial<RedisCacheBackendOptions> | null)?.client
  const transport = adaptClient(client)
  if (transport === null)
    throw new BudgetConfigError(
      'client',
      `redisCacheBackend({ client }): \`client\` must be an ioredis or node-redis client, got ${describeValue(client)}`,
    )
  return {
    async get(key) {
      const reply = await transport.send(['GET', key], key)
      return typeof reply === 'string' ? reply : reply instanceof Uint8Array ? new TextDecoder().decode(reply) : null
    },
    async set(key, value, ttlMs) {
      await transport.send(['SET', key, value, 'PX', String(Math.max(1, Math.ceil(ttlMs)))], key)
    },
    async delete(key) {
      await transport.send(['DEL', key], key)
    },
  }
}
