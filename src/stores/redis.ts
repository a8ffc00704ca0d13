/**
 * `redisStore({ client })`: one budget shared by every instance that talks to the same Redis.
 *
 * Every operation is one Lua script (`EVALSHA`, falling back to `EVAL` when Redis has forgotten the
 * script), so a reservation's check and its writes are a single atomic step in Redis. All keys of the store
 * share the hash tag `{prefix}`, so the store also runs on Redis Cluster (all its keys live in one slot).
 * Amounts are exact integers (never `INCRBYFLOAT`). Ledger keys expire by themselves after their window
 * (`PEXPIREAT` plus a margin, and a logical expiry checked inside the scripts); holds of calls that never
 * finished are swept inside the scripts; spend records go to a capped stream.
 *
 * Lost data fails closed: every script checks the store's epoch (a key without expiry) and a registry of the
 * keys that must exist, so after a `FLUSHALL`, a restart without persistence or an eviction the store answers
 * `StorageError` instead of counting budgets from 0.
 *
 * With `time: 'server'` (the default) the scripts use Redis `TIME`, and the store exposes a `clock` that
 * follows the Redis server's time, so instances whose local clocks disagree still agree on windows.
 *
 * This module imports neither `ioredis` nor `redis`: pass your own client.
 *
 * @packageDocumentation
 */
import * as ledger from './ledger/ledger.js'
import { StorageError } from '../errors.js'
import type { RedisTransport } from './redis/client.js'
import { serverClock } from './redis/clock.js'
import {
  checkEvictionPolicy,
  INIT_SCRIPT,
  isDeliberate,
  lostError,
  newEpoch,
  READ_SCRIPT,
  START_OVER_SCRIPT,
} from './redis/epoch.js'
import { parseRedisOptions, type RedisStoreOptions } from './redis/options.js'
import { json, pushRecordFields, readRecords, recordRange } from './redis/records.js'
import { amount, balancePairs, overflowError, parseStoredBudget, toStrings } from './redis/replies.js'
import { createRunner, failureOf, script, storageError, type Script } from './redis/runner.js'
import { readRollups, rollupArgs, rollupOverflowError, ROLLUPS_SCRIPT } from './redis/rollups.js'
import { BALANCES_SCRIPT, PUT_BUDGET_SCRIPT, RESET_SCRIPT } from './redis/key-scripts.js'
import { BATCH_SCRIPT } from './redis/scripts.js'
import { createBatcher, type BatchOp } from './redis/batch.js'
import { rollupDayBounds, validateRollupQuery } from './ledger/rollups.js'
import {
  RELEASE_TOMBSTONE_MS,
  type Balance,
  type BalancesRequest,
  type BudgetStore,
  type CommitRequest,
  type CommitResult,
  type HistoryEntry,
  type PutBudgetRequest,
  type PutBudgetResult,
  type RecordQuery,
  type ReleaseRequest,
  type ReleaseResult,
  type ReserveRequest,
  type ReserveResult,
  type ResetRequest,
  type RollupQuery,
  type RollupResult,
  type SpendRecord,
  type StoredBudget,
} from './types.js'

export type { IoRedisLike, NodeRedisClusterLike, NodeRedisLike, RedisClientLike } from './redis/client.js'
export type { RedisStoreOptions } from './redis/options.js'
export { redisCacheBackend } from './redis/cache-backend.js'
export type { RedisCacheBackend, RedisCacheBackendOptions } from './redis/cache-backend.js'

/** A {@link BudgetStore} backed by Redis, with the server's clock. */
export interface RedisStore extends BudgetStore {
  /**
   * The Redis server's time as seen from here: the local clock plus the offset measured from the server
   * time that every script returns (and from the store's first contact with Redis). With `time: 'client'` it
   * is the local clock. The error is at most half a round trip.
   */
  readonly clock: { now(): number }
  /**
   * Measures the offset to the server's time now (one `TIME` round trip) and resolves with it in ms
   * (server minus local). Not required: the store syncs at its first contact and on every operation, and
   * admits no reservation before. Call it before the first `clock.now()` if the very first window must
   * already follow the server.
   */
  syncClock(): Promise<number>
  /**
   * Creates the store's epoch when there is none (the deployment step with `initialize: 'explicit'`);
   * does nothing when it exists. Checks the server's eviction policy first.
   */
  initialize(): Promise<void>
  /**
   * Accepts that Redis lost data and starts over on purpose: writes a new epoch, which every running store
   * of this prefix adopts at its next operation, and forgets the lost keys. Spend that survived in Redis is
   * kept; what was lost counts from 0. For an operator, after an incident (see `docs/stores/redis.md`).
   */
  startOver(): Promise<void>
  /** Which client was recognised: `ioredis`, `node-redis` or `node-redis-cluster`. */
  readonly clientKind: RedisTransport['kind']
}

const NAME = 'redis'

/** `TIME` as a script, so that a cluster client routes it by the key it declares. */
const TIME_SCRIPT = "return redis.call('TIME')"

/** The names of the store's keys. */
function storeKeys(prefix: string) {
  const base = `{${prefix}}:`
  return {
    base,
    call: (callId: string) => `${base}c:${callId}`,
    hash: (key: string) => `${base}k:${key}`,
    stream: `${base}r`,
    streamMeta: `${base}rm`,
    budgets: `${base}b`,
    history: (scope: string) => `${base}h:${scope}`,
    epoch: `${base}epoch`,
    live: `${base}live`,
    rollupDay: (day: string) => `${base}u:${day}`,
    rollupIndex: `${base}ud`,
  }
}

/** Whether every entry has the same amount (and there are two or more): then it is sent once. */
const sameAmounts = (entries: readonly { amount: number }[]): boolean =>
  entries.length > 1 && entries.every((entry) => entry.amount === entries[0]!.amount)

/** The error of a script that found a registered ledger key gone before the end of its window. */
const isLostKey = (error: unknown): error is Error => error instanceof Error && /LOST ledger key /.test(error.message)

/** Milliseconds of `TIME`'s reply (seconds, microseconds). */
const timeMs = (reply: string[]): number => Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000)

/**
 * A budget store on Redis, for many app instances that must enforce one budget. Works with ioredis and
 * node-redis clients; see `docs/stores/redis.md` for what Redis must be configured with (persistence, no
 * eviction), failover and Cluster.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis'
 * import { BudgetManager } from 'llm-budget'
 * import { redisStore } from 'llm-budget/redis'
 *
 * const budgets = new BudgetManager({ store: redisStore({ client: new Redis(process.env.REDIS_URL) }) })
 * ```
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const o = parseRedisOptions(options)
  const { transport, time, localClock, maxRecords } = o
  const keys = storeKeys(o.prefix)
  const head = [time === 'server' ? 's' : 'c', String(o.expiryMarginMs)]
  // below 1,000 records, `MAXLEN ~` (which trims whole stream nodes of ~100 entries) would keep far too many
  const cap = `${maxRecords < 1000 ? '=' : '~'}${maxRecords}`
  const recordRetention = Number.isFinite(o.recordRetentionMs) ? String(o.recordRetentionMs) : ''
  const rollupRetention = Number.isFinite(o.rollupRetentionMs) ? String(o.rollupRetentionMs) : ''
  const clock = serverClock(localClock, time === 'server')
  const runner = createRunner({
    transport,
    timeoutMs: o.timeoutMs,
    failFast: o.failFast,
    localNow: () => localClock.now(),
  })
  const scripts = {
    batch: script(BATCH_SCRIPT),
    balances: script(BALANCES_SCRIPT),
    reset: script(RESET_SCRIPT),
    putBudget: script(PUT_BUDGET_SCRIPT),
    read: script(READ_SCRIPT),
    rollups: script(ROLLUPS_SCRIPT),
  }

  // ------------------------------------------------------------------------------------------- epoch
  let epoch: string | null = null
  let ready: Promise<void> | null = null
  /** Runs an epoch script (`INIT_SCRIPT`, `START_OVER_SCRIPT`) and takes its time sample; answers its third value. */
  const epochScript = async (what: string, source: string, args: string[]): Promise<string> => {
    const sentAt = localClock.now()
    const reply = toStrings(await runner.send(what, ['EVAL', source, '2', keys.epoch, keys.live, ...args], keys.epoch))
    clock.sample(timeMs(reply), sentAt, localClock.now(), true)
    return reply[2]!
  }
  const connect = async (create: boolean): Promise<void> => {
    await checkEvictionPolicy(
      () => runner.send('initialize', ['CONFIG', 'GET', 'maxmemory*'], keys.epoch),
      o.acceptEviction,
    )
    const found = await epochScript('initialize', INIT_SCRIPT, [
      create ? 'create' : 'read',
      newEpoch(create && o.initialize === 'explicit' ? 'i' : 'a'),
    ])
    if (found === '') {
      throw new StorageError(
        NAME,
        `the store "${o.prefix}" is not initialized: call initialize() once (initialize: 'explicit')`,
        { retryable: false },
      )
    }
    if (epoch !== null && found !== epoch && !isDeliberate(found)) throw lostError('its epoch key was replaced')
    epoch = found
  }
  /** Resolves once the store knows its epoch (and, with it, the server's time). */
  const ensureReady = (): Promise<void> | undefined => {
    if (epoch !== null) return undefined
    ready ??= connect(o.initialize === 'auto').catch((error: unknown) => {
      ready = null
      throw error
    })
    return ready
  }
  /** A script answered `lost`: adopt a deliberate new epoch (then the operation is retried), else fail closed. */
  const onLost = (stored: string): void => {
    if (stored !== '' && stored !== epoch && isDeliberate(stored)) {
      epoch = stored
      return
    }
    throw lostError(stored === '' ? 'its epoch key is gone' : 'its epoch key was replaced')
  }

  // ------------------------------------------------------------------------------------------- scripts
  /** Reserves, commits and releases of one turn of the event loop or one batch's flight, as one script (`batch.ts`). */
  const batched = createBatcher(
    (what, command) => runner.evalScript(what, scripts.batch, command),
    [keys.epoch, keys.live, keys.stream, keys.streamMeta, keys.rollupIndex],
    [cap, recordRetention, rollupRetention],
    () => [head[0]!, head[1]!, keys.base, epoch!],
  )
  /**
   * Runs a script (`s`, or the operation kind of a batched one): `scriptKeys`, then the common arguments (clock
   * mode, margin, `now`, key base, epoch), then `args`. Answers its reply values, `[0]` the server time and
   * `[1]` the status, after the epoch check.
   */
  const run = async (
    what: string,
    s: Script | BatchOp['kind'],
    scriptKeys: string[],
    now: number,
    args: string[],
    order = 0,
    terms: string[] = [],
  ): Promise<string[]> => {
    await ensureReady()
    const startedAt = localClock.now()
    let adopted = false
    for (;;) {
      const sentAt = localClock.now()
      let values: string[]
      try {
        values =
          typeof s === 'string'
            ? await batched.submit({ kind: s, keys: scriptKeys, now, args, terms, order })
            : toStrings(
                await runner.evalScript(what, s, [
                  'EVALSHA',
                  '',
                  String(scriptKeys.length + 2),
                  keys.epoch,
                  keys.live,
                  ...scriptKeys,
                  head[0]!,
                  head[1]!,
                  String(now),
                  keys.base,
                  epoch!,
                  ...args,
                ]),
              )
      } catch (error) {
        // On a cluster that is moving the store's slot, a script can find a key it reaches through another key
        // (a hold's ledger key) still on the other node: try again until the move is over or the time is up.
        if (!transport.cluster || !isLostKey(error) || sentAt - startedAt > o.timeoutMs) throw error
        await new Promise((resolve) => setTimeout(resolve, 50))
        continue
      }
      clock.sample(Number(values[0]), sentAt, localClock.now())
      if (values[1] !== 'lost') return values
      if (adopted) throw lostError('its epoch changed twice during one operation')
      onLost(values[2] ?? '')
      adopted = true
    }
  }
  const wrap = async <T>(what: string, operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation()
    } catch (error) {
      if (isLostKey(error)) {
        const key = /LOST ledger key (.*?)(?: script: [0-9a-f]+,.*)?$/s.exec(error.message)?.[1] ?? ''
        throw lostError(
          `ledger key ${JSON.stringify(key.slice(0, 200))} is gone before the end of its window: evicted?`,
        )
      }
      throw storageError(what, error)
    }
  }
  /** A read of one key through the epoch check. */
  const read = (what: string, key: string, args: string[]): Promise<unknown> =>
    wrap(what, async () => {
      await ensureReady()
      for (let attempt = 0; ; attempt++) {
        const reply = (await runner.evalScript(what, scripts.read, [
          'EVALSHA',
          '',
          '2',
          keys.epoch,
          key,
          epoch!,
          ...args,
        ])) as unknown[]
        if (!Array.isArray(reply)) throw new Error('unexpected reply to a read')
        if (reply[0] !== 'lost') return reply[1]
        onLost(String(reply[1] ?? ''))
        if (attempt > 0) throw lostError('its epoch changed twice during one operation')
      }
    })

  // ------------------------------------------------------------------------------------------- clock
  const syncClock = (): Promise<number> =>
    wrap('syncClock', async () => {
      const sentAt = localClock.now()
      // On a cluster, `TIME` (no key) would go to any node; inside a script with the store's key it runs on
      // the node that owns the store's slot, the clock the scripts use.
      const command = transport.cluster ? ['EVAL', TIME_SCRIPT, '1', keys.budgets] : ['TIME']
      const reply = toStrings(await runner.send('syncClock', command, keys.budgets))
      clock.sample(timeMs(reply), sentAt, localClock.now(), true)
      return clock.offset
    })
  // the first contact: epoch, eviction policy and the server's time, before the first operation needs them
  ensureReady()?.catch(() => undefined)

  // ------------------------------------------------------------------------------------------- reserve
  /** Releases a call id whose reservation's outcome is unknown, retrying until its hold would have expired. */
  const pendingReleases = new Set<ReturnType<typeof setTimeout>>()
  const releaseUnknown = (request: ReserveRequest, startedAt: number): void => {
    const ttl = request.holdExpiresAt - request.now
    const attempt = (n: number): void => {
      const elapsed = localClock.now() - startedAt
      if (runner.closed || elapsed > ttl) return
      release({ callId: request.callId, now: request.now + elapsed, holdExpiresAt: request.holdExpiresAt }).catch(
        () => {
          const timer = setTimeout(
            () => {
              pendingReleases.delete(timer)
              attempt(n + 1)
            },
            Math.min(o.timeoutMs, 50 * 2 ** n),
          )
          ;(timer as { unref?: () => void }).unref?.()
          pendingReleases.add(timer)
        },
      )
    }
    attempt(0)
  }

  /** The order of the calls of reserve, commit and release (a batch applies them in this order). */
  let calls = 0
  const reserve = async (request: ReserveRequest): Promise<ReserveResult> => {
    ledger.validateReserve(request)
    const order = calls++
    const { callId, entries } = request
    const scriptKeys = [keys.call(callId)]
    for (const entry of entries) scriptKeys.push(keys.hash(entry.key))
    // the amounts are the call's own; the limits and window ends (terms) are mostly shared by a batch's calls
    const args = [String(request.holdExpiresAt)]
    const terms: string[] = []
    // one amount for every entry (a call's cost counts against each of its scopes): sent once, kind 'R'
    const same = sameAmounts(entries)
    if (same) args.push(String(entries[0]!.amount))
    for (const entry of entries) {
      if (!same) args.push(String(entry.amount))
      terms.push(
        entry.limit === null ? '' : String(entry.limit),
        entry.expiresAt === null ? '' : String(entry.expiresAt),
      )
    }
    const startedAt = localClock.now()
    return wrap('reserve', async () => {
      await ensureReady()
      if (time === 'server' && Math.abs(request.now - clock.now()) > o.maxClockSkewMs) {
        throw new StorageError(
          NAME,
          `the reservation's time is ${Math.round(request.now - clock.now())} ms away from the Redis server's (more than maxClockSkewMs, ` +
            `${o.maxClockSkewMs} ms): its windows were computed with a wrong clock; nothing was reserved`,
        )
      }
      let values: string[]
      try {
        values = await run('reserve', same ? 'R' : 'r', scriptKeys, request.now, args, order, terms)
      } catch (error) {
        if (failureOf(error) === 'unknown') releaseUnknown(request, startedAt)
        throw error
      }
      switch (values[1]) {
        case 'ok':
          return { ok: true, duplicate: false, balances: balancePairs(values, 2, entries.length) }
        case 'dup':
          return { ok: true, duplicate: true, balances: balancePairs(values, 2, entries.length) }
        case 'refused':
          return { ok: false, refusedIndex: Number(values[2]), balances: balancePairs(values, 3, entries.length) }
        case 'overflow':
          throw overflowError(values, entries, 'reserving')
        default:
          throw new Error(`unexpected reply status ${JSON.stringify(values[1])}`)
      }
    })
  }

  // ------------------------------------------------------------------------------------------- commit, release
  const commit = async (request: CommitRequest): Promise<CommitResult> => {
    ledger.validateCommit(request)
    const order = calls++
    const { callId, entries, record } = request
    const scriptKeys = [keys.call(callId)]
    for (const entry of entries) scriptKeys.push(keys.hash(entry.key))
    const rollup = record !== undefined ? rollupArgs(record) : undefined
    const args = [String(request.dedupeUntil), record !== undefined ? String(record.endedAt) : '']
    // the number of rollup rows, the window ends and the rows' fields (terms) are mostly shared by a batch's calls
    const terms = [rollup !== undefined ? String(rollup.rows) : '0']
    const same = sameAmounts(entries)
    if (same) args.push(String(entries[0]!.amount))
    for (const entry of entries) {
      if (!same) args.push(String(entry.amount))
      terms.push(entry.expiresAt === null ? '' : String(entry.expiresAt))
    }
    if (record !== undefined && rollup !== undefined) {
      scriptKeys.push(keys.rollupDay(rollup.day))
      args.push(rollup.sums)
      for (const row of rollup.fields) terms.push(row)
      if (maxRecords > 0) pushRecordFields(record, args)
    }
    return wrap('commit', async () => {
      const values = await run('commit', same ? 'C' : 'c', scriptKeys, request.now, args, order, terms)
      if (values[1] === 'overflow') throw overflowError(values, entries, 'adding')
      if (values[1] === 'rollupOverflow') throw rollupOverflowError(values)
      if (values[1] !== 'ok' && values[1] !== 'dup')
        throw new Error(`unexpected reply status ${JSON.stringify(values[1])}`)
      // after and reserved per entry; before is after less the amount added (nothing when a duplicate)
      const duplicate = values[1] === 'dup'
      const balances = entries.map((entry, i) => {
        const after = amount(values[2 + 2 * i])
        return { before: duplicate ? after : after - entry.amount, after, reserved: amount(values[3 + 2 * i]) }
      })
      return { duplicate, balances }
    })
  }

  const release = async (request: ReleaseRequest): Promise<ReleaseResult> => {
    ledger.validateRelease(request)
    const order = calls++
    const tombstoneUntil = request.holdExpiresAt ?? request.now + RELEASE_TOMBSTONE_MS
    return wrap('release', async () => {
      const values = await run(
        'release',
        'x',
        [keys.call(request.callId)],
        request.now,
        [String(tombstoneUntil)],
        order,
      )
      return { released: values[1] === 'released' }
    })
  }

  // ------------------------------------------------------------------------------------------- balances, reset
  const keyScript = (what: 'balances' | 'reset', request: BalancesRequest | ResetRequest): Promise<string[]> => {
    const scriptKeys = [keys.budgets]
    for (const key of request.keys) scriptKeys.push(keys.hash(key))
    return run(what, scripts[what], scriptKeys, request.now, [])
  }

  const balances = async (request: BalancesRequest): Promise<Balance[]> => {
    ledger.validateKeys(request)
    if (request.keys.length === 0) return []
    return wrap('balances', async () => balancePairs(await keyScript('balances', request), 2, request.keys.length))
  }

  const reset = async (request: ResetRequest): Promise<void> => {
    ledger.validateKeys(request)
    if (request.keys.length === 0) return
    await wrap('reset', () => keyScript('reset', request))
  }

  // ------------------------------------------------------------------------------------------- definitions, records
  const putBudget = async (request: PutBudgetRequest): Promise<PutBudgetResult> => {
    ledger.validatePutBudget(request)
    const definition = request.definition === null ? 'null' : json('definition', request.definition)
    const history = json('history', request.history)
    const args = [
      request.scope,
      JSON.stringify(request.scope),
      request.definition === null ? '1' : '0',
      definition,
      history,
      JSON.stringify(request.now),
      request.ifRevision === undefined ? '' : String(request.ifRevision),
    ]
    return wrap('putBudget', async () => {
      const values = await run(
        'putBudget',
        scripts.putBudget,
        [keys.budgets, keys.history(request.scope)],
        request.now,
        args,
      )
      const stored = values[2] === undefined || values[2] === '' ? null : parseStoredBudget(values[2])
      if (values[1] === 'conflict') return { ok: false, conflict: true, current: stored }
      return { ok: true, budget: stored }
    })
  }

  const getBudget = async (scope: string): Promise<StoredBudget | null> => {
    ledger.validateScope(scope)
    const value = await read('getBudget', keys.budgets, ['hget', scope])
    return value === null || value === undefined ? null : parseStoredBudget(String(value))
  }

  const listBudgets = async (): Promise<StoredBudget[]> =>
    toStrings(await read('listBudgets', keys.budgets, ['hvals'])).map(parseStoredBudget)

  const getHistory = async (scope: string): Promise<HistoryEntry[]> => {
    ledger.validateScope(scope)
    return toStrings(await read('getHistory', keys.history(scope), ['lrange'])).map(
      (entry) => JSON.parse(entry) as HistoryEntry,
    )
  }

  const queryRollups = async (query: RollupQuery): Promise<RollupResult> => {
    validateRollupQuery(query)
    const { from, to } = rollupDayBounds(query)
    const args = [
      from === null ? '-inf' : String(Date.parse(`${from}T00:00:00Z`)),
      to === null ? '+inf' : `(${Date.parse(`${to}T00:00:00Z`)}`,
      rollupRetention,
      String(maxRecords),
    ]
    return wrap('queryRollups', async () => {
      const values = await run(
        'queryRollups',
        scripts.rollups,
        [keys.rollupIndex, keys.stream, keys.streamMeta],
        clock.now(),
        args,
      )
      return readRollups(values, query.scopes)
    })
  }

  const queryRecords = async (query: RecordQuery): Promise<SpendRecord[]> => {
    const range = recordRange(query)
    if (range === null) return []
    const late = Number((await read('queryRecords', keys.streamMeta, ['hget', 'late'])) ?? 0) || 0
    return wrap('queryRecords', () =>
      readRecords(
        (start, end, count) =>
          runner.send('queryRecords', ['XRANGE', keys.stream, start, end, 'COUNT', String(count)], keys.stream),
        late,
        range,
      ),
    )
  }

  // ------------------------------------------------------------------------------------------- operator steps
  const initialize = (): Promise<void> => wrap('initialize', () => connect(true))

  const startOver = (): Promise<void> =>
    wrap('startOver', async () => {
      await checkEvictionPolicy(
        () => runner.send('startOver', ['CONFIG', 'GET', 'maxmemory*'], keys.epoch),
        o.acceptEviction,
      )
      const fresh = newEpoch('i')
      await epochScript('startOver', START_OVER_SCRIPT, [fresh, keys.base])
      epoch = fresh
    })

  return {
    name: NAME,
    clock: { now: () => clock.now() },
    clientKind: transport.kind,
    syncClock,
    initialize,
    startOver,
    reserve,
    commit,
    release,
    balances,
    reset,
    getBudget,
    putBudget,
    listBudgets,
    getHistory,
    queryRecords,
    queryRollups,
    close: () => {
      // operations issued before close() go out first (those waiting behind the batch in flight included)
      batched.flush()
      runner.close()
      for (const timer of pendingReleases) clearTimeout(timer)
      pendingReleases.clear()
      return Promise.resolve()
    },
  }
}
