/**
 * Versioned migrations of the PostgreSQL store. `llm_budget_schema_version` holds one row per applied migration;
 * {@link migrate} applies the missing ones in one transaction (serialized between processes by a transaction-level
 * advisory lock, so two instances starting at once do not both create the tables), and a store refuses a schema
 * newer than the versions it knows.
 *
 * @internal
 * @packageDocumentation
 */
import { SCHEMA_V1 } from './schema-v1.js'

/** One migration: its version, what it does, and its SQL (several statements, run in one transaction). */
export interface Migration {
  version: number
  description: string
  sql: string
}

/** Every migration, oldest first. Append; never edit one that was released. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'ledger, budgets, spend logs, daily rollups', sql: SCHEMA_V1 },
]

/** The newest schema version this code knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

/** The subset of a node-postgres client or pool the store uses. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>
}

/** A node-postgres pool (or anything with the same `query` and `connect`). */
export interface PoolLike extends Queryable {
  connect(): Promise<Queryable & { release(error?: Error | boolean): void }>
}

/** Lock id of the migration advisory lock (any constant; "llmbudgt" in ASCII). */
const MIGRATION_LOCK = '7813502634601272436'

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS llm_budget_schema_version (
  version integer PRIMARY KEY,
  description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`

/** The applied schema version: 0 when the store's tables are not there. */
export async function schemaVersion(db: Queryable): Promise<number> {
  const exists = await db.query(`SELECT to_regclass('llm_budget_schema_version') IS NOT NULL AS present`)
  if (exists.rows[0]?.present !== true) return 0
  const result = await db.query('SELECT coalesce(max(version), 0)::int AS version FROM llm_budget_schema_version')
  return Number(result.rows[0]?.version ?? 0)
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** The version before. */
  from: number
  /** The version after. */
  to: number
  /** Versions applied now, oldest first. */
  applied: number[]
}

/**
 * Applies the missing migrations in one transaction. A schema newer than {@link LATEST_SCHEMA_VERSION} is left
 * alone: it throws.
 */
export async function migrate(pool: PoolLike): Promise<MigrateResult> {
  const client = await pool.connect()
  let failed: Error | undefined
  try {
    await client.query('BEGIN')
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`)
    await client.query(VERSION_TABLE)
    const from = await schemaVersion(client)
    if (from > LATEST_SCHEMA_VERSION) {
      await client.query('ROLLBACK')
      throw new Error(newerMessage(from))
    }
    const applied: number[] = []
    for (const migration of MIGRATIONS) {
      if (migration.version <= from) continue
      await client.query(migration.sql)
      await client.query('INSERT INTO llm_budget_schema_version (version, description) VALUES ($1, $2)', [
        migration.version,
        migration.description,
      ])
      applied.push(migration.version)
    }
    await client.query('COMMIT')
    return { from, to: Math.max(from, LATEST_SCHEMA_VERSION), applied }
  } catch (error) {
    failed = error as Error
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    client.release(failed !== undefined && !/newer than/.test(failed.message) ? failed : undefined)
  }
}

/** The message for a database whose schema is newer than this code. */
export function newerMessage(version: number): string {
  return `the database has llm-budget schema version ${version}, newer than this llm-budget knows (${LATEST_SCHEMA_VERSION}); upgrade llm-budget (a newer schema may store things this version would corrupt)`
}
