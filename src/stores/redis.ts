/**
 * `redisStore({ client })`: one budget shared by every instance that talks to the same Redis.
 *
 * Every operation is one Lua script (`EVALSHA`, falling back to `EVAL` when Redis has forgotten the
 * script), so a reservation's check and its writes are a single atomic step in Redis. All keys of the store
 * share the hash tag `{prefix}`, so the store also runs on Redis Cluster (all its keys live in one slot).
 * Amounts are exact integers (`HINCRBY`; never `INCRBYFLOAT`). Ledger keys expire by themselves after their
 * window (`PEXPIREAT` plus a margin, and a logical expiry checked inside the scripts); holds of calls that
 * never finished are swept inside the scripts; spend records go to a capped stream.
 *
 * With `time: 'server'` (the default) the scripts use Redis `TIME`, and the store exposes a `clock` that
 * follows the Redis server's time, so instances whose local clocks disagree still agree on windows.
 *
 * This module imports neither `ioredis` nor `redis`: pass your own client.
 *
 * @packageDocumentation
 */
import * as ledger from './ledger/ledger.js'
import { BudgetConfigError, InvalidInputError, StorageError } from '../errors.js'
import { adaptClient, type RedisClientLike, type RedisTransport } from './redis/client.js'
import { BALANCES_SCRIPT, COMMIT_SCRIPT, PUT_BUDGET_SCRIPT, RELEASE_SCRIPT, RESERVE_SCRIPT, RESET_SCRIPT } from './redis/scripts.js'
import type {
  Balance,
  BalancesRequest,
  BudgetStore,
  CommitRequest,
  CommitResult,
  HistoryEntry,
  JsonValue,
  PutBudgetRequest,
  PutBudgetResult,
  RecordQuery,
  ReleaseRequest,
  ReleaseResult,
  ReserveRequest,
  ReserveResult,
  ResetRequest,
  SpendRecord,
  StoredBudget,
} from './types.js'

export type { IoRedisLike, NodeRedisClusterLike, NodeRedisLike, RedisClientLike } from './redis/client.js'

/** Options of {@link redisStore}. */
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
   *   and {@link RedisBudgetStore.clock} follows the server's time, so a `BudgetManager` without its own
   *   clock computes windows from the server's time too, whatever the local clock says.
   * - `'client'`: the request's `now`, as every other store does (for tests with explicit times, and for
   *   managers that bring their own clock). Physical key expiry still uses the server's time.
   */
  time?: 'server' | 'client'
  /**
   * Longest time one operation may take, in ms, before it fails with a `StorageError`; covers a Redis that
   * is down, unreachable or stalled. Default `2000`.
   */
  timeoutMs?: number
  /**
   * How long after their logical expiry keys are physically removed (`PEXPIREAT`), in ms. Covers the
   * difference between the caller's clock and the server's in `time: 'client'` mode; the logical expiry is
   * exact either way. Default `300_000` (5 minutes).
   */
  expiryMarginMs?: number
  /**
   * Most spend records kept in the record stream (`XADD MAXLEN ~`, so Redis may keep slightly more); the
   * oldest are dropped beyond it. `0` stores no records. Default `100_000`.
   */
  maxRecords?: number
  /**
   * The local clock that {@link RedisBudgetStore.clock} corrects with the measured offset to the server's
   * time. Default `Date`. Meant for tests that simulate machines with wrong clocks.
   */
  localClock?: { now(): number }
}

/** A {@link BudgetStore} backed by Redis, with the server's clock. */
export interface RedisBudgetStore extends BudgetStore {
  /**
   * The Redis server's time as seen from here: the local clock plus the offset measured from the server
   * time that every script returns (and from a `TIME` call at creation). With `time: 'client'` it is the
   * local clock. The error is at most half a round trip.
   */
  readonly clock: { now(): number }
  /**
   * Measures the offset to the server's time now (one `TIME` round trip) and resolves with it in ms
   * (server minus local). Not required: the store does it at creation and on every operation. Call it
   * before the first `clock.now()` if the very first window must already follow the server.
   */
  syncClock(): Promise<number>
  /** Which client was recognised: `ioredis`, `node-redis` or `node-redis-cluster`. */
  readonly clientKind: RedisTransport['kind']
}

const NAME = 'redis'
/** Most spend records returned per `XRANGE` page. */
const PAGE = 1000
/** Spend records must end within the range of a JavaScript `Date`. */
const MAX_TIME = 8.64e15

interface Script {
  readonly source: string
  sha: string | null
  loading: Promise<string> | null
}

function script(source: string): Script {
  return { source, sha: null, loading: null }
}

/** `TIME` as a script, so that a cluster client routes it by the key it declares. */
const TIME_SCRIPT = "return redis.call('TIME')"

/**
 * The SHA-1 of a script as lowercase hex (Redis's script id), with Web Crypto (Node 20, browsers, edge);
 * `null` where Web Crypto is missing (the store then asks Redis with `SCRIPT LOAD`).
 */
function sha1(source: string): Promise<string> | null {
  const subtle = (globalThis as { crypto?: { subtle?: { digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer> } } }).crypto?.subtle
  if (subtle === undefined) return null
  return subtle.digest('SHA-1', new TextEncoder().encode(source)).then((hash) => {
    let hex = ''
    for (const byte of new Uint8Array(hash)) hex += byte.toString(16).padStart(2, '0')
    return hex
  })
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

function validateOptions(options: RedisStoreOptions): Required<Omit<RedisStoreOptions, 'client'>> & { transport: RedisTransport } {
  if (typeof options !== 'object' || options === null) throw new BudgetConfigError('options', '`redisStore(options)` needs an options object with a `client`')
  const transport = adaptClient(options.client)
  if (transport === null) {
    throw new BudgetConfigError(
      'client',
      '`client` must be an ioredis client (`new Redis(url)`) or a node-redis client (`await createClient({ url }).connect()`)',
    )
  }
  const keyPrefix = (options.client as { options?: { keyPrefix?: unknown } }).options?.keyPrefix
  if (transport.kind === 'ioredis' && typeof keyPrefix === 'string' && keyPrefix !== '') {
    throw new BudgetConfigError('client', 'the ioredis client has a `keyPrefix`, which the store\'s scripts cannot see; remove it and pass `prefix` to redisStore() instead')
  }
  const prefix = options.prefix ?? 'llm-budget'
  if (typeof prefix !== 'string' || prefix.length === 0 || prefix.length > 100 || /[{}]/.test(prefix)) {
    throw new BudgetConfigError('prefix', `\`prefix\` must be a string of 1 to 100 characters without \`{\` or \`}\`, got ${describe(prefix)}`)
  }
  const time = options.time ?? 'server'
  if (time !== 'server' && time !== 'client') throw new BudgetConfigError('time', `\`time\` must be 'server' or 'client', got ${describe(time)}`)
  const timeoutMs = options.timeoutMs ?? 2000
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new BudgetConfigError('timeoutMs', `\`timeoutMs\` must be a positive number of milliseconds, got ${describe(timeoutMs)}`)
  }
  const expiryMarginMs = options.expiryMarginMs ?? 300_000
  if (!Number.isSafeInteger(expiryMarginMs) || expiryMarginMs < 0) {
    throw new BudgetConfigError('expiryMarginMs', `\`expiryMarginMs\` must be a non-negative integer of milliseconds, got ${describe(expiryMarginMs)}`)
  }
  const maxRecords = options.maxRecords ?? 100_000
  if (!Number.isSafeInteger(maxRecords) || maxRecords < 0) {
    throw new BudgetConfigError('maxRecords', `\`maxRecords\` must be a non-negative integer, got ${describe(maxRecords)}`)
  }
  const localClock = options.localClock ?? Date
  if (typeof localClock?.now !== 'function') throw new BudgetConfigError('localClock', '`localClock` must be an object with a `now()` method')
  return { transport, prefix, time, timeoutMs, expiryMarginMs, maxRecords, localClock }
}

function json(field: string, value: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    throw new InvalidInputError(field, `\`${field}\` must be JSON-serialisable: ${(error as Error).message}`, { cause: error })
  }
  if (text === undefined) throw new InvalidInputError(field, `\`${field}\` must be JSON-serialisable`)
  return text
}

function toStrings(reply: unknown): string[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected reply ${describe(reply)}`)
  return reply.map((item) => (item === null || item === undefined ? '' : String(item)))
}

function parseStoredBudget(value: string): StoredBudget {
  const match = /^(\d+)\n([^\n]*)\n([^\n]*)\n([^\n]*)\n([\s\S]*)$/.exec(value)
  if (match === null) throw new Error('a stored budget is not in the expected format')
  return {
    scope: JSON.parse(match[4]!) as string,
    definition: JSON.parse(match[5]!) as JsonValue,
    revision: Number(match[1]),
    createdAt: JSON.parse(match[2]!) as number,
    updatedAt: JSON.parse(match[3]!) as number,
  }
}

/**
 * A budget store on Redis, for many app instances that must enforce one budget. Works with ioredis and
 * node-redis clients; see `docs/stores/redis.md` for persistence, failover and Cluster.
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
export function redisStore(options: RedisStoreOptions): RedisBudgetStore {
  const { transport, prefix, time, timeoutMs, expiryMarginMs, maxRecords, localClock } = validateOptions(options)
  const base = `{${prefix}}:`
  const mode = time === 'server' ? 's' : 'c'
  const margin = String(expiryMarginMs)
  const cap = String(maxRecords)
  const keys = {
    call: (callId: string) => `${base}c:${callId}`,
    hash: (key: string) => `${base}k:${key}`,
    stream: `${base}r`,
    streamMeta: `${base}rm`,
    budgets: `${base}b`,
    history: (scope: string) => `${base}h:${scope}`,
  }
  const scripts = {
    reserve: script(RESERVE_SCRIPT),
    commit: script(COMMIT_SCRIPT),
    release: script(RELEASE_SCRIPT),
    balances: script(BALANCES_SCRIPT),
    reset: script(RESET_SCRIPT),
    putBudget: script(PUT_BUDGET_SCRIPT),
  }
  let closed = false

  // ------------------------------------------------------------------------------------------- clock
  let offset = 0
  let bestRoundTrip = Number.POSITIVE_INFINITY
  let lastSampleAt = Number.NEGATIVE_INFINITY
  /** Takes a server time sample; keeps it when its round trip is short (queueing delay makes it noisy). */
  const sample = (serverMs: number, sentAt: number, receivedAt: number): void => {
    if (!Number.isFinite(serverMs)) return
    const roundTrip = Math.max(0, receivedAt - sentAt)
    const stale = receivedAt - lastSampleAt > 5_000
    if (!stale && roundTrip > bestRoundTrip * 2 + 2) return
    bestRoundTrip = stale ? roundTrip : Math.min(bestRoundTrip, roundTrip)
    lastSampleAt = receivedAt
    // whole milliseconds: instants computed from the clock stay integers, which the scripts format and parse
    // on their cheap integer path (the offset is only accurate to half a round trip anyway)
    offset = Math.round(serverMs - (sentAt + receivedAt) / 2)
  }
  const clock = { now: () => localClock.now() + (time === 'server' ? offset : 0) }

  // ------------------------------------------------------------------------------------------- transport
  const storageError = (what: string, error: unknown): StorageError => {
    const message = error instanceof Error ? error.message : String(error)
    return new StorageError(NAME, `${what} failed: ${message}`, { cause: error })
  }

  /** Sends one command with the store's timeout; client errors become `StorageError`s. */
  const send = (what: string, args: string[], firstKey?: string): Promise<unknown> => {
    if (closed) return Promise.reject(new StorageError(NAME, 'the store is closed', { retryable: false }))
    const unavailable = transport.unavailable()
    if (unavailable !== null) return Promise.reject(new StorageError(NAME, `${what} failed: ${unavailable}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new StorageError(NAME, `${what} timed out after ${timeoutMs} ms (is Redis reachable?)`)), timeoutMs)
      let pending: Promise<unknown>
      try {
        pending = transport.send(args, firstKey)
      } catch (error) {
        clearTimeout(timer)
        reject(storageError(what, error))
        return
      }
      pending.then(
        (reply) => {
          clearTimeout(timer)
          resolve(reply)
        },
        (error: unknown) => {
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  const wrap = async <T>(what: string, operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation()
    } catch (error) {
      if (error instanceof InvalidInputError || error instanceof StorageError) throw error
      throw storageError(what, error)
    }
  }

  const isNoScript = (error: unknown): boolean => error instanceof Error && /NOSCRIPT/.test(error.message)

  const loadScript = (what: string, s: Script, firstKey: string): Promise<string> => {
    if (s.loading === null) {
      // On a cluster `SCRIPT LOAD` has no key, so the client would send it to any node (ioredis) or to every
      // node (node-redis: it then fails while any node is down). The SHA is computed here instead; the first
      // `EVALSHA` on the slot's node answers `NOSCRIPT` and the `EVAL` that follows caches the script there.
      const digest = transport.cluster ? sha1(s.source) : null
      s.loading = (digest ?? send(what, ['SCRIPT', 'LOAD', s.source], firstKey)).then(
        (sha) => {
          s.sha = String(sha)
          return s.sha
        },
        (error: unknown) => {
          s.loading = null
          throw error
        },
      )
    }
    return s.loading
  }

  /**
   * Starts a script command: `['EVALSHA', <sha>, numkeys, ...keys, mode, margin, now, base]`; the operation
   * appends its own arguments, so the command array is built once.
   */
  const scriptCommand = (scriptKeys: string[], now: number): string[] => {
    const command = new Array<string>(scriptKeys.length + 7)
    command[0] = 'EVALSHA'
    command[1] = ''
    command[2] = String(scriptKeys.length)
    for (let i = 0; i < scriptKeys.length; i++) command[3 + i] = scriptKeys[i]!
    const at = 3 + scriptKeys.length
    command[at] = mode
    command[at + 1] = margin
    command[at + 2] = String(now)
    command[at + 3] = base
    return command
  }

  /** Runs a script command by SHA (loading it once), falling back to `EVAL` on `NOSCRIPT`; returns its reply. */
  const evalScript = async (what: string, s: Script, command: string[]): Promise<string[]> => {
    const firstKey = command[3]!
    command[1] = s.sha ?? (await loadScript(what, s, firstKey))
    const sentAt = localClock.now()
    let reply: unknown
    try {
      reply = await send(what, command, firstKey)
    } catch (error) {
      if (!isNoScript(error)) throw error
      const again = command.slice()
      again[0] = 'EVAL'
      again[1] = s.source
      reply = await send(what, again, firstKey)
    }
    const values = toStrings(reply)
    if (time === 'server') sample(Number(values[0]), sentAt, localClock.now())
    return values
  }

  const syncClock = (): Promise<number> =>
    wrap('syncClock', async () => {
      const sentAt = localClock.now()
      // On a cluster, `TIME` (no key) would go to any node; inside a script with the store's key it runs on
      // the node that owns the store's slot, the clock the scripts use.
      const command = transport.cluster ? ['EVAL', TIME_SCRIPT, '1', keys.budgets] : ['TIME']
      const reply = toStrings(await send('syncClock', command, keys.budgets))
      const receivedAt = localClock.now()
      lastSampleAt = Number.NEGATIVE_INFINITY
      sample(Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000), sentAt, receivedAt)
      return offset
    })
  if (time === 'server') syncClock().catch(() => undefined)

  const num = (value: string | undefined): number => {
    const n = Number(value)
    if (value === undefined || value === '' || !Number.isSafeInteger(n)) throw new Error(`unexpected amount ${describe(value)} in a reply`)
    return n
  }
  const pairs = (values: string[], from: number, count: number): Balance[] => {
    const out: Balance[] = new Array(count)
    for (let i = 0; i < count; i++) out[i] = { spent: num(values[from + 2 * i]), reserved: num(values[from + 2 * i + 1]) }
    return out
  }
  const overflow = (values: string[], entries: { key: string; amount: number }[], verb: string): never => {
    const index = Number(values[2])
    const entry = entries[index]!
    throw new InvalidInputError(
      `entries[${index}].amount`,
      `${verb} ${entry.amount} on ${entry.key} would exceed the largest exact amount (${Number.MAX_SAFE_INTEGER})`,
    )
  }

  // ------------------------------------------------------------------------------------------- operations
  const reserve = async (request: ReserveRequest): Promise<ReserveResult> => {
    ledger.validateReserve(request)
    const { callId, entries } = request
    const scriptKeys = [keys.call(callId)]
    for (const entry of entries) scriptKeys.push(keys.hash(entry.key))
    const command = scriptCommand(scriptKeys, request.now)
    command.push(callId, String(request.holdExpiresAt), String(entries.length))
    for (const entry of entries) {
      command.push(String(entry.amount), entry.limit === null ? '' : String(entry.limit), entry.expiresAt === null ? '' : String(entry.expiresAt))
    }
    return wrap('reserve', async () => {
      const values = await evalScript('reserve', scripts.reserve, command)
      switch (values[1]) {
        case 'ok':
          return { ok: true, duplicate: false, balances: pairs(values, 2, entries.length) }
        case 'dup':
          return { ok: true, duplicate: true, balances: pairs(values, 2, entries.length) }
        case 'refused':
          return { ok: false, refusedIndex: Number(values[2]), balances: pairs(values, 3, entries.length) }
        case 'overflow':
          return overflow(values, entries, 'reserving')
        default:
          throw new Error(`unexpected reply status ${describe(values[1])}`)
      }
    })
  }

  const commit = async (request: CommitRequest): Promise<CommitResult> => {
    ledger.validateCommit(request)
    const { callId, entries, record } = request
    let recordText = ''
    let endedAt = ''
    if (record !== undefined && maxRecords > 0) {
      if (record.endedAt < 0 || record.endedAt > MAX_TIME) {
        throw new InvalidInputError('record.endedAt', `\`record.endedAt\` must be between 0 and ${MAX_TIME} epoch milliseconds, got ${record.endedAt}`)
      }
      recordText = json('record', record)
      endedAt = String(record.endedAt)
    }
    const scriptKeys = [keys.call(callId), keys.stream, keys.streamMeta]
    for (const entry of entries) scriptKeys.push(keys.hash(entry.key))
    const command = scriptCommand(scriptKeys, request.now)
    command.push(callId, String(request.dedupeUntil), recordText, endedAt, cap, String(entries.length))
    for (const entry of entries) command.push(String(entry.amount), entry.expiresAt === null ? '' : String(entry.expiresAt))
    return wrap('commit', async () => {
      const values = await evalScript('commit', scripts.commit, command)
      if (values[1] === 'overflow') return overflow(values, entries, 'adding')
      if (values[1] !== 'ok' && values[1] !== 'dup') throw new Error(`unexpected reply status ${describe(values[1])}`)
      const balances = entries.map((_, i) => ({ before: num(values[2 + 3 * i]), after: num(values[3 + 3 * i]), reserved: num(values[4 + 3 * i]) }))
      return { duplicate: values[1] === 'dup', balances }
    })
  }

  const release = async (request: ReleaseRequest): Promise<ReleaseResult> => {
    ledger.validateRelease(request)
    return wrap('release', async () => {
      const command = scriptCommand([keys.call(request.callId)], request.now)
      command.push(request.callId)
      const values = await evalScript('release', scripts.release, command)
      return { released: values[1] === 'released' }
    })
  }

  const keyScript = async (what: 'balances' | 'reset', request: BalancesRequest | ResetRequest): Promise<string[]> => {
    ledger.validateKeys(request)
    const scriptKeys = [keys.budgets]
    for (const key of request.keys) scriptKeys.push(keys.hash(key))
    return evalScript(what, scripts[what], scriptCommand(scriptKeys, request.now))
  }

  const balances = async (request: BalancesRequest): Promise<Balance[]> => {
    ledger.validateKeys(request)
    if (request.keys.length === 0) return []
    return wrap('balances', async () => pairs(await keyScript('balances', request), 2, request.keys.length))
  }

  const reset = async (request: ResetRequest): Promise<void> => {
    ledger.validateKeys(request)
    if (request.keys.length === 0) return
    await wrap('reset', () => keyScript('reset', request))
  }

  const putBudget = async (request: PutBudgetRequest): Promise<PutBudgetResult> => {
    ledger.validatePutBudget(request)
    const definition = request.definition === null ? 'null' : json('definition', request.definition)
    const history = json('history', request.history)
    const command = scriptCommand([keys.budgets, keys.history(request.scope)], request.now)
    command.push(
      request.scope,
      JSON.stringify(request.scope),
      request.definition === null ? '1' : '0',
      definition,
      history,
      JSON.stringify(request.now),
      request.ifRevision === undefined ? '' : String(request.ifRevision),
    )
    return wrap('putBudget', async () => {
      const values = await evalScript('putBudget', scripts.putBudget, command)
      const stored = values[2] === undefined || values[2] === '' ? null : parseStoredBudget(values[2])
      if (values[1] === 'conflict') return { ok: false, conflict: true, current: stored }
      return { ok: true, budget: stored }
    })
  }

  const getBudget = async (scope: string): Promise<StoredBudget | null> => {
    ledger.validateScope(scope)
    return wrap('getBudget', async () => {
      const value = await send('getBudget', ['HGET', keys.budgets, scope], keys.budgets)
      return value === null || value === undefined ? null : parseStoredBudget(String(value))
    })
  }

  const listBudgets = (): Promise<StoredBudget[]> =>
    wrap('listBudgets', async () => toStrings(await send('listBudgets', ['HVALS', keys.budgets], keys.budgets)).map(parseStoredBudget))

  const getHistory = async (scope: string): Promise<HistoryEntry[]> => {
    ledger.validateScope(scope)
    return wrap('getHistory', async () => {
      const key = keys.history(scope)
      return toStrings(await send('getHistory', ['LRANGE', key, '0', '-1'], key)).map((entry) => JSON.parse(entry) as HistoryEntry)
    })
  }

  const queryRecords = async (query: RecordQuery): Promise<SpendRecord[]> => {
    const from = query?.from ?? Number.NEGATIVE_INFINITY
    const to = query?.to ?? Number.POSITIVE_INFINITY
    if (typeof from !== 'number' || typeof to !== 'number' || Number.isNaN(from) || Number.isNaN(to)) {
      throw new InvalidInputError('from', '`from` and `to` must be numbers of epoch milliseconds')
    }
    if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 0)) {
      throw new InvalidInputError('limit', `\`limit\` must be a non-negative safe integer, got ${describe(query.limit)}`)
    }
    if (to <= 0 || from >= to || from > MAX_TIME) return []
    return wrap('queryRecords', async () => {
      // A record's stream id is max(its endedAt, the previous id), so it is at least its endedAt and at most
      // its endedAt plus the largest lateness seen (kept in the metadata hash): read that id range, filter.
      const late = Number((await send('queryRecords', ['HGET', keys.streamMeta, 'late'], keys.streamMeta)) ?? 0) || 0
      let start = Number.isFinite(from) && from > 0 ? `${Math.floor(from)}-0` : '-'
      const end = Number.isFinite(to) ? `${Math.floor(to) + late}-18446744073709551615` : '+'
      const found: SpendRecord[] = []
      for (;;) {
        const page = await send('queryRecords', ['XRANGE', keys.stream, start, end, 'COUNT', String(PAGE)], keys.stream)
        if (!Array.isArray(page) || page.length === 0) break
        let lastId = ''
        for (const item of page as unknown[]) {
          if (!Array.isArray(item)) continue
          lastId = String(item[0])
          const fields = item[1] as unknown
          let data: string | undefined
          if (Array.isArray(fields)) {
            for (let i = 0; i + 1 < fields.length; i += 2) if (String(fields[i]) === 'd') data = String(fields[i + 1])
          } else if (typeof fields === 'object' && fields !== null) {
            data = String((fields as Record<string, unknown>).d)
          }
          if (data === undefined) continue
          const record = JSON.parse(data) as SpendRecord
          if (record.endedAt >= from && record.endedAt < to) found.push(record)
        }
        if (page.length < PAGE || lastId === '') break
        const [ms, seq] = lastId.split('-')
        start = `${ms}-${BigInt(seq ?? '0') + 1n}`
      }
      found.sort((a, b) => a.endedAt - b.endedAt)
      return query.limit === undefined ? found : found.slice(0, query.limit)
    })
  }

  return {
    name: NAME,
    clock,
    clientKind: transport.kind,
    syncClock,
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
    close: () => {
      closed = true
      return Promise.resolve()
    },
  }
}
