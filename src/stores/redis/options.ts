/**
 * The options of `redisStore()`: their documented shape and their validation (unknown keys refused, each value
 * checked, the client recognised).
 *
 * @internal
 */
import { z } from 'zod'
import { BudgetConfigError } from '../../errors.js'
import { parseOptions } from '../../internal/options.js'
import { DEFAULT_ROLLUP_RETENTION_MS } from '../ledger/retention.js'
import { adaptClient, type RedisClientLike, type RedisTransport } from './client.js'

/** Options of `redisStore`. */
export interface RedisStoreOptions {
  /**
   * A connected Redis client: an ioredis `Redis` or `Cluster` (`new Redis(url)`), or a node-redis client
   * (`await createClient({ url }).connect()`) or cluster. The store never closes it: you own it.
   */
  client: RedisClientLike
  /**
   * Name space of every key the store writes; the keys are `{prefix}:...`, and the braces make `prefix` the
   * Redis Cluster hash tag, so all keys of the store live in one slot. 1 to 100 characters, no `{` or `}`.
   * Two stores with the same prefix on the same Redis share their budgets (that is the point). Default
   * `llm-budget`.
   */
  prefix?: string
  /**
   * Which clock decides hold expiry, key expiry and call-id memory.
   * - `'server'` (default): the Redis server's `TIME`. Instants in a request are read relative to its `now`,
   *   and `RedisStore.clock` follows the server's time, so a `BudgetManager` without its own
   *   clock computes windows from the server's time too, whatever the local clock says. No reservation is
   *   admitted before the clock has been synced with the server, and a reservation whose `now` is more than
   *   `maxClockSkewMs` away from the server's time is refused with a `StorageError`.
   * - `'client'`: the request's `now`, as every other store does (for tests with explicit times, and for
   *   managers that bring their own clock). Physical key expiry still uses the server's time.
   */
  time?: 'server' | 'client'
  /**
   * Longest time one operation may take, in ms, before it fails with a `StorageError`; covers a Redis that
   * is down, unreachable or stalled. When a reservation times out (its outcome is unknown), the store
   * releases its call id in the background, so a stalled reservation does not hold the budget until its
   * hold expires. Default `2000`.
   */
  timeoutMs?: number
  /**
   * How long after their logical expiry keys are physically removed (`PEXPIREAT`), in ms. Covers the
   * difference between the caller's clock and the server's in `time: 'client'` mode; the logical expiry is
   * exact either way. Default `300_000` (5 minutes).
   */
  expiryMarginMs?: number
  /**
   * Most spend records kept in the record stream; the oldest are dropped beyond it. From 1,000 on the stream is
   * trimmed approximately (`XADD MAXLEN ~`: Redis may keep up to one stream node, about 100 records, more);
   * below, exactly. `0` stores no records (rollups are still kept). Default `100_000`.
   */
  maxRecords?: number
  /**
   * Spend records whose `endedAt` is older than this many ms (before the committing call's `now`) are dropped
   * from the stream at each commit (`XTRIM MINID`, exact: one more command per commit). Default: kept until
   * `maxRecords` pushes them out.
   */
  recordRetentionMs?: number
  /**
   * How long daily rollups are kept, in ms after the end of their UTC day: older days are dropped at the next
   * commit with a record, and their hash expires by itself (`PEXPIREAT`, plus `expiryMarginMs`).
   * `Infinity` keeps them forever. Default 400 days, so a yearly window's days are all there.
   */
  rollupRetentionMs?: number
  /**
   * The local clock that `RedisStore.clock` corrects with the measured offset to the server's
   * time. Default `Date`. Meant for tests that simulate machines with wrong clocks.
   */
  localClock?: { now(): number }
  /**
   * With `time: 'server'`, the largest difference in ms between a reservation's `now` and the server's time
   * that is accepted; a larger one means the caller computed its windows with a wrong clock (for example
   * before the store's clock was synced), and the reservation is refused with a `StorageError`. Default
   * `60_000`.
   */
  maxClockSkewMs?: number
  /**
   * Who creates the store's epoch, the key (without expiry) whose disappearance tells the store that Redis
   * lost its data.
   * - `'auto'` (default): the first store to use an empty Redis creates it. A process that starts after
   *   Redis lost everything cannot tell that from a new Redis; processes that were running fail closed.
   * - `'explicit'`: only `initialize()` (a deployment step) creates it; until then every operation fails
   *   with a `StorageError`, so no process ever starts over from 0 by itself.
   */
  initialize?: 'auto' | 'explicit'
  /**
   * Run although the server has a `maxmemory` limit with an eviction policy other than `noeviction`. By
   * default the store refuses to work on such a server (`StorageError`), because eviction deletes ledger
   * keys. With `true` it runs, and an eviction of a ledger key that is still in its window is detected at
   * the next operation on that key (`StorageError`). Default `false`.
   */
  acceptEviction?: boolean
  /**
   * Fail fast while Redis is unreachable: after `failures` operations in a row failed for connection
   * reasons (timeouts, refused or reset connections), every operation fails at once with a `StorageError`
   * for `probeAfterMs`; then one operation is let through as a probe, and a success closes the circuit.
   * `false` waits `timeoutMs` on every operation. Default `{ failures: 3, probeAfterMs: 1000 }`.
   */
  failFast?: { failures: number; probeAfterMs: number } | false
}

const positiveMs = z.number().positive().finite()
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

const schema = z.object({
  client: z.unknown(),
  prefix: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[^{}]*$/, 'must not contain `{` or `}`')
    .default('llm-budget'),
  time: z.enum(['server', 'client']).default('server'),
  timeoutMs: positiveMs.default(2000),
  expiryMarginMs: count.default(300_000),
  maxRecords: count.default(100_000),
  recordRetentionMs: z.union([count, z.literal(Number.POSITIVE_INFINITY)]).default(Number.POSITIVE_INFINITY),
  rollupRetentionMs: z.union([count, z.literal(Number.POSITIVE_INFINITY)]).default(DEFAULT_ROLLUP_RETENTION_MS),
  localClock: z
    .custom<{ now(): number }>(
      (v) => typeof (v as { now?: unknown } | null)?.now === 'function',
      'must be an object with a `now()` method',
    )
    .default(() => Date),
  maxClockSkewMs: positiveMs.default(60_000),
  initialize: z.enum(['auto', 'explicit']).default('auto'),
  acceptEviction: z.boolean().default(false),
  failFast: z
    .union([
      z.literal(false),
      z.strictObject({ failures: z.number().int().positive().max(1_000_000), probeAfterMs: positiveMs }),
    ])
    .default({ failures: 3, probeAfterMs: 1000 }),
})

/** The validated options, with the client recognised. */
export type ParsedRedisOptions = Omit<z.output<typeof schema>, 'client'> & { transport: RedisTransport }

/** Validates the options of `redisStore()`; a {@link BudgetConfigError} names the first bad one. */
export function parseRedisOptions(input: unknown): ParsedRedisOptions {
  if (typeof input !== 'object' || input === null || !('client' in input)) {
    throw new BudgetConfigError('client', '`redisStore(options)` needs an options object with a `client`')
  }
  const { client, ...options } = parseOptions('redisStore()', schema, input)
  const transport = adaptClient(client)
  if (transport === null) {
    throw new BudgetConfigError(
      'client',
      '`client` must be an ioredis client (`new Redis(url)`) or a node-redis client (`await createClient({ url }).connect()`)',
    )
  }
  const keyPrefix = (client as { options?: { keyPrefix?: unknown } }).options?.keyPrefix
  if (transport.kind === 'ioredis' && typeof keyPrefix === 'string' && keyPrefix !== '') {
    throw new BudgetConfigError(
      'client',
      "the ioredis client has a `keyPrefix`, which the store's scripts cannot see; remove it and pass `prefix` to redisStore() instead",
    )
  }
  return { ...options, transport }
}
