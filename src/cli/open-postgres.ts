/**
 * Opens a PostgreSQL store from a `postgres://` (or `postgresql://`) URL for the CLI: a node-postgres pool of its
 * own (the `pg` package is needed) and `postgresStore` over it. `close` closes the store and ends the pool.
 *
 * @packageDocumentation
 */
import type { PostgresPool, PostgresStore } from '../stores/postgres.js'
import { UsageError } from './dispatch.js'

/** A PostgreSQL store opened from a URL, with its pool. */
export interface OpenedPostgres {
  store: PostgresStore
  close: () => Promise<void>
  /** `postgres host:port/database` (no password). */
  label: string
}

/** True for the URL forms this module opens. */
export function isPostgresUrl(spec: string): boolean {
  return spec.startsWith('postgres://') || spec.startsWith('postgresql://')
}

/**
 * Opens the store. `migrate` applies missing migrations on first use (`serve`, `migrate`); without it the store
 * refuses a database that is not migrated (`report` reads and must not create tables).
 */
export async function openPostgres(spec: string, options: { migrate: boolean }): Promise<OpenedPostgres> {
  let url: URL
  try {
    url = new URL(spec)
  } catch {
    throw new UsageError(`--store ${JSON.stringify(spec.replace(/:[^:@/]*@/, ':***@'))} is not a valid PostgreSQL URL`)
  }
  let Pool: new (config: {
    connectionString: string
    max?: number
  }) => PostgresPool & { end(): Promise<void>; on(event: 'error', listener: (error: Error) => void): unknown }
  try {
    const pg = (await import('pg')) as unknown as { default?: { Pool: typeof Pool }; Pool?: typeof Pool }
    Pool = (pg.default?.Pool ?? pg.Pool)!
  } catch {
    throw new Error('--store postgres://... needs the `pg` package: npm install pg')
  }
  const { postgresStore } = await import('../stores/postgres.js')
  const pool = new Pool({ connectionString: spec, max: 10 })
  // An idle connection that breaks is replaced by the pool; the operation that needs one reports the failure.
  pool.on('error', () => undefined)
  const store = postgresStore({ pool, migrate: options.migrate })
  return {
    store,
    close: async () => {
      await store.close()
      await pool.end()
    },
    label: `postgres ${url.host}${url.pathname}`,
  }
}
