/**
 * `postgresStore({ pool })`: the ledger, budgets, spend log and daily rollups in PostgreSQL, through a node-postgres
 * (`pg`) pool the app already has. Each operation is one call of a SQL function that runs in its own transaction:
 * admission is a conditional `UPDATE` per key (`spent + reserved + amount <= limit`) with the keys locked in one
 * order, so concurrent calls from any number of processes never admit past a limit and never deadlock on keys.
 * The tables are plain SQL a user can query for reports (see `docs/stores/postgres.md`).
 *
 * Node only; `pg` is an optional peer dependency, never imported here (the pool is passed in).
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { InvalidInputError, StorageError, isBudgetError } from '../errors.js'
import { parseOptions } from '../internal/options.js'
import * as ledger from './ledger/ledger.js'
import { DEFAULT_ROLLUP_RETENTION_MS } from './ledger/retention.js'
import { compareRows, dayOf, rollupDayBounds, rollupDeltas, validateRollupQuery } from './ledger/rollups.js'
import {
  LATEST_SCHEMA_VERSION,
  type MigrateResult,
  type PoolLike,
  migrate,
  newerMessage,
  schemaVersion,
} from './postgres/migrations.js'
import { spendLogRow } from './postgres/spend-log.js'
import {
  type Balance,
  type BudgetStore,
  type CommitResult,
  type HistoryEntry,
  type JsonValue,
  type PutBudgetResult,
  RELEASE_TOMBSTONE_MS,
  type ReserveResult,
  type RollupQuery,
  type RollupResult,
  type RollupRow,
  type SpendRecord,
  type StoredBudget,
} from './types.js'

export type { MigrateResult } from './postgres/migrations.js'

/**
 * The pool the store needs: node-postgres's `Pool` (`new pg.Pool({ connectionString })`) or anything with the
 * same `query(text, values)` and `connect()`.
 */
export type PostgresPool = PoolLike

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /** A node-postgres pool. The store does not end it: `close()` leaves the pool to its owner. */
  pool: PostgresPool
  /**
   * Apply missing schema migrations on first use (in one transaction, serialized between instances). Set `false`
   * to require `llm-budget migrate --store postgres://...` to be run first: the store then refuses to run on an
   * older schema. A schema newer than this version knows is always refused. Default `true`.
   */
  migrate?: boolean
  /**
   * Most spend-log rows kept; the oldest are deleted beyond it (checked at most once a minute and every
   * `maxRecords / 16` commits). Totals stay exact through the daily rollups. Default `Infinity` (keep all);
   * a row takes about 0.6 to 1.4 KB with its indexes (`docs/stores/postgres.md`, Sizing).
   */
  maxRecords?: number
  /** Spend-log rows whose end is older than this many milliseconds are deleted. Default `Infinity`. */
  recordRetentionMs?: number
  /**
   * Daily rollup rows older than this many milliseconds are deleted. Default 400 days. A row takes about 225 to 390 bytes
   * with its indexes; a day has one per scope and model used that day.
   */
  rollupRetentionMs?: number
}

/** A PostgreSQL budget store (see {@link postgresStore}). */
export interface PostgresStore extends BudgetStore {
  /** Daily rollups and coverage (see {@link BudgetStore.queryRollups}). */
  queryRollups(query: RollupQuery): Promise<RollupResult>
  /** Applies the missing schema migrations now (the store also does it on first use unless `migrate: false`). */
  migrate(): Promise<MigrateResult>
}

const retention = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.literal(Number.POSITIVE_INFINITY)])
const optionsSchema = z.object({
  pool: z.custom<PostgresPool>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as PostgresPool).query === 'function' &&
      typeof (value as PostgresPool).connect === 'function',
    { message: 'must be a node-postgres Pool (an object with `query` and `connect`)' },
  ),
  migrate: z.boolean().optional(),
  maxRecords: retention.optional(),
  recordRetentionMs: retention.optional(),
  rollupRetentionMs: retention.optional(),
})

/** How often (ms of store time) housekeeping runs: forgetting finished call ids, expired holds and keys, retention. */
const PRUNE_INTERVAL_MS = 60_000
/** Attempts of one operation that PostgreSQL aborted for a deadlock or a serialization failure (then it is an error). */
const MAX_ATTEMPTS = 5

/** SQLSTATEs that say the operation did nothing and may run again as it is. */
const RETRY_CODES = new Set(['40P01', '40001'])
/** SQLSTATEs that say the request was refused: an amount or a rollup sum past 2^53 - 1. */
const INPUT_CODES = new Set(['LB002', '23514', '22003'])

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** The store's error for anything PostgreSQL or the connection threw. */
function storeError(error: unknown): Error {
  if (isBudgetError(error)) return error
  const code = errorCode(error)
  const message = error instanceof Error ? error.message : String(error)
  if (code !== undefined && INPUT_CODES.has(code)) {
    const detail = (error as { detail?: unknown }).detail
    return new InvalidInputError(typeof detail === 'string' ? detail : 'record', message, { cause: error })
  }
  return new StorageError('postgres', `${message}${code === undefined ? '' : ` (${code})`}`, {
    cause: error,
    retryable: true,
  })
}

function int(value: unknown): number {
  return typeof value === 'number' ? value : Number(value)
}

function pairs(value: unknown): Balance[] {
  return (value as [number, number][]).map(([spent, reserved]) => ({ spent: int(spent), reserved: int(reserved) }))
}

/**
 * A budget store in PostgreSQL, for apps that already run it and want their spend history in SQL. Passes the
 * same store contract as every other store; several processes and machines share one database safely.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { postgresStore } from 'llm-budget/postgres'
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * const budgets = new BudgetManager({ store: postgresStore({ pool }) })
 * ```
 *
 * @throws BudgetConfigError for invalid options.
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const parsed = parseOptions('postgresStore()', optionsSchema, options)
  const pool = parsed.pool
  const autoMigrate = parsed.migrate ?? true
  const maxRecords = parsed.maxRecords ?? Number.POSITIVE_INFINITY
  const recordRetentionMs = parsed.recordRetentionMs ?? Number.POSITIVE_INFINITY
  const rollupRetentionMs = parsed.rollupRetentionMs ?? DEFAULT_ROLLUP_RETENTION_MS
  const pruneEvery = Number.isFinite(maxRecords) ? Math.max(1, Math.floor(maxRecords / 16)) : Number.POSITIVE_INFINITY
  let closed = false
  let ready: Promise<void> | null = null
  let lastPruneAt = Number.NEGATIVE_INFINITY
  let commitsSincePrune = 0
  let pruning: Promise<void> | null = null

  const checkSchema = async (): Promise<void> => {
    let version = await schemaVersion(pool)
    if (version > LATEST_SCHEMA_VERSION) throw new StorageError('postgres', newerMessage(version), { retryable: false })
    if (version < LATEST_SCHEMA_VERSION) {
      if (!autoMigrate) {
        throw new StorageError(
          'postgres',
          `the database has llm-budget schema version ${version}, this llm-budget needs ${LATEST_SCHEMA_VERSION}; run \`llm-budget migrate --store postgres://...\` (or pass \`migrate: true\`)`,
          { retryable: false },
        )
      }
      try {
        version = (await migrate(pool)).to
      } catch (error) {
        if (error instanceof Error && /newer than/.test(error.message))
          throw new StorageError('postgres', error.message, { retryable: false })
        throw error
      }
    }
  }

  /** Runs `operation` once the schema is checked; maps errors; retries deadlocks and serialization failures. */
  const call = async <T>(operation: () => Promise<T>): Promise<T> => {
    if (closed) throw new StorageError('postgres', 'the store is closed', { retryable: false })
    try {
      if (ready === null) {
        ready = checkSchema()
        // A failed check (database down) is tried again by the next operation.
        ready.catch(() => {
          ready = null
        })
      }
      await ready
      for (let attempt = 1; ; attempt++) {
        try {
          return await operation()
        } catch (error) {
          if (attempt >= MAX_ATTEMPTS || !RETRY_CODES.has(errorCode(error) ?? '')) throw error
        }
      }
    } catch (error) {
      throw storeError(error)
    }
  }

  const one = async (sql: string, values: unknown[]): Promise<unknown> => (await pool.query(sql, values)).rows[0]?.r

  /**
   * Housekeeping after a commit, when due: at most once a minute of store time, or every `maxRecords / 16` commits.
   * The commit waits for it (so retention is applied when the commit answers); a commit that finds it running
   * does not wait. A failure is ignored: nothing acknowledged depends on it, and the next commit tries again.
   */
  const prune = async (now: number): Promise<void> => {
    if (pruning !== null) return
    if (now < lastPruneAt + PRUNE_INTERVAL_MS && commitsSincePrune < pruneEvery) return
    const countAtStart = commitsSincePrune
    pruning = (async () => {
      try {
        await pool.query('SELECT llm_budget_prune($1, $2, $3, $4::date)', [
          now,
          Number.isFinite(maxRecords) ? maxRecords : null,
          Number.isFinite(recordRetentionMs) ? now - recordRetentionMs : null,
          Number.isFinite(rollupRetentionMs) ? dayOf(now - rollupRetentionMs) : null,
        ])
        lastPruneAt = now
        commitsSincePrune -= countAtStart
      } catch {
        // See above: tried again by the next commit.
      } finally {
        pruning = null
      }
    })()
    await pruning
  }

  const store: PostgresStore = {
    name: 'postgres',

    migrate: () => {
      if (closed) return Promise.reject(new StorageError('postgres', 'the store is closed', { retryable: false }))
      return migrate(pool).catch((error: unknown) => {
        throw storeError(error)
      })
    },

    async reserve(request) {
      ledger.validateReserve(request)
      const { entries } = request
      const r = (await call(() =>
        one('SELECT llm_budget_reserve($1, $2, $3, $4::text[], $5::bigint[], $6::bigint[], $7::float8[]) AS r', [
          request.callId,
          request.now,
          request.holdExpiresAt,
          entries.map((e) => e.key),
          entries.map((e) => e.amount),
          entries.map((e) => e.limit),
          entries.map((e) => e.expiresAt),
        ]),
      )) as { ok: boolean; duplicate?: boolean; refused?: number; balances: unknown }
      const balances = pairs(r.balances)
      return (
        r.ok
          ? { ok: true, duplicate: r.duplicate === true, balances }
          : { ok: false, refusedIndex: int(r.refused), balances }
      ) as ReserveResult
    },

    async commit(request) {
      ledger.validateCommit(request)
      const record = request.record
      const log = record === undefined ? null : JSON.stringify(spendLogRow(record))
      const rollups = record === undefined ? null : JSON.stringify(rollupDeltas(record))
      const { entries } = request
      const r = (await call(() =>
        one(
          'SELECT llm_budget_commit($1, $2, $3, $4::text[], $5::bigint[], $6::float8[], $7::jsonb, $8::json, $9::jsonb) AS r',
          [
            request.callId,
            request.now,
            request.dedupeUntil,
            entries.map((e) => e.key),
            entries.map((e) => e.amount),
            entries.map((e) => e.expiresAt),
            log,
            record === undefined ? null : JSON.stringify(record),
            rollups,
          ],
        ),
      )) as { duplicate: boolean; balances: [number, number, number][] }
      commitsSincePrune++
      await prune(request.now)
      const result: CommitResult = {
        duplicate: r.duplicate,
        balances: r.balances.map(([before, after, reserved]) => ({
          before: int(before),
          after: int(after),
          reserved: int(reserved),
        })),
      }
      return result
    },

    async release(request) {
      ledger.validateRelease(request)
      const until = request.holdExpiresAt ?? request.now + RELEASE_TOMBSTONE_MS
      const released = await call(() =>
        one('SELECT llm_budget_release($1, $2, $3) AS r', [request.callId, request.now, until]),
      )
      return { released: released === true }
    },

    async balances(request) {
      ledger.validateKeys(request)
      return pairs(
        await call(() => one('SELECT llm_budget_balances($1::text[], $2) AS r', [request.keys, request.now])),
      )
    },

    async reset(request) {
      ledger.validateKeys(request)
      await call(() => pool.query('SELECT llm_budget_reset($1::text[])', [request.keys]))
    },

    async getBudget(scope) {
      ledger.validateScope(scope)
      const { rows } = await call(() =>
        pool.query(
          'SELECT scope, definition, revision, created_at, updated_at FROM llm_budget_budgets WHERE scope = $1 AND definition IS NOT NULL',
          [scope],
        ),
      )
      return rows.length === 0 ? null : budgetOf(rows[0]!)
    },

    async putBudget(request) {
      ledger.validatePutBudget(request)
      const r = (await call(() =>
        one('SELECT llm_budget_put_budget($1, $2::json, $3, $4, $5::json) AS r', [
          request.scope,
          request.definition === null ? null : JSON.stringify(request.definition),
          request.now,
          request.ifRevision ?? null,
          JSON.stringify(request.history),
        ]),
      )) as { ok: boolean; budget?: StoredBudget | null; current?: StoredBudget | null }
      const result: PutBudgetResult = r.ok
        ? { ok: true, budget: r.budget ?? null }
        : { ok: false, conflict: true, current: r.current ?? null }
      return result
    },

    async listBudgets() {
      const { rows } = await call(() =>
        pool.query(
          'SELECT scope, definition, revision, created_at, updated_at FROM llm_budget_budgets WHERE definition IS NOT NULL ORDER BY scope',
        ),
      )
      return rows.map(budgetOf)
    },

    async getHistory(scope) {
      ledger.validateScope(scope)
      const { rows } = await call(() =>
        pool.query('SELECT entry FROM llm_budget_history WHERE scope = $1 ORDER BY id', [scope]),
      )
      return rows.map((row) => row.entry as HistoryEntry)
    },

    async queryRecords(query) {
      const from = query.from ?? Number.NEGATIVE_INFINITY
      const to = query.to ?? Number.POSITIVE_INFINITY
      if (typeof from !== 'number' || typeof to !== 'number' || Number.isNaN(from) || Number.isNaN(to)) {
        throw new InvalidInputError('from', '`from` and `to` must be numbers of epoch milliseconds')
      }
      const limit = query.limit
      if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
        throw new InvalidInputError('limit', `\`limit\` must be a non-negative safe integer, got ${String(limit)}`)
      }
      const { rows } = await call(() =>
        pool.query(
          'SELECT record FROM llm_budget_spend_logs WHERE ended_at_ms >= $1 AND ended_at_ms < $2 ORDER BY ended_at_ms, request_id LIMIT $3',
          [from, to, limit ?? null],
        ),
      )
      return rows.map((row) => row.record as SpendRecord)
    },

    async queryRollups(query) {
      validateRollupQuery(query)
      const { from, to } = rollupDayBounds(query)
      const where: string[] = []
      const values: unknown[] = []
      if (from !== null) where.push(`day >= $${values.push(from)}::date`)
      if (to !== null) where.push(`day < $${values.push(to)}::date`)
      if (query.scopes !== undefined) {
        const exact = query.scopes.filter((s) => !s.endsWith(':*'))
        const types = query.scopes
          .filter((s) => s.endsWith(':*'))
          .map((s) => `${s.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`)
        where.push(`(scope = ANY($${values.push(exact)}::text[]) OR scope LIKE ANY($${values.push(types)}::text[]))`)
      }
      const sql =
        "SELECT to_char(day, 'YYYY-MM-DD') AS day, scope, model, model_served, calls, input_tokens, output_tokens, spend_nano_usd, saved_nano_usd, estimated_calls " +
        `FROM llm_budget_daily_spend${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`}`
      const [data, meta] = await call(() =>
        Promise.all([pool.query(sql, values), pool.query('SELECT name, value FROM llm_budget_meta')]),
      )
      const rows: RollupRow[] = data.rows.map((row) => ({
        day: String(row.day),
        scope: String(row.scope),
        model: String(row.model),
        modelServed: String(row.model_served),
        calls: int(row.calls),
        inputTokens: int(row.input_tokens),
        outputTokens: int(row.output_tokens),
        costNanoUsd: int(row.spend_nano_usd),
        savedNanoUsd: int(row.saved_nano_usd),
        estimatedCalls: int(row.estimated_calls),
      }))
      const mark = (name: string): number | null => {
        const row = meta.rows.find((m) => m.name === name)
        return row === undefined ? null : int(row.value)
      }
      const result: RollupResult = {
        rows: rows.sort(compareRows),
        recordsFrom: mark('records_from'),
        rollupsFrom: mark('rollups_from'),
      }
      return result
    },

    async close() {
      closed = true
      await pruning
    },
  }
  return store
}

function budgetOf(row: Record<string, unknown>): StoredBudget {
  return {
    scope: String(row.scope),
    definition: row.definition as JsonValue,
    revision: int(row.revision),
    createdAt: int(row.created_at),
    updatedAt: int(row.updated_at),
  }
}
