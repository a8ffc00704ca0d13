/**
 * Opens a store from a `--store` string, shared by `llm-budget serve` and `llm-budget report`:
 * `memory`, `file:<dir>`, `redis://host:port` (`rediss://` for TLS; needs the `ioredis` package) or
 * `postgres://user@host:port/db` (needs the `pg` package).
 *
 * @packageDocumentation
 */
import { statSync } from 'node:fs'
import type { BudgetStore } from '../stores/types.js'
import { UsageError } from './dispatch.js'
import { isPostgresUrl, openPostgres } from './open-postgres.js'

/** A store opened from a `--store` string. */
export interface OpenedStore {
  store: BudgetStore
  /** Closes the store (and the Redis connection it opened). */
  close: () => Promise<void>
  /** What to print, e.g. `file ./budget-data` or `redis 127.0.0.1:6379`. */
  label: string
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * Refuse a `file:<dir>` whose directory does not exist (a `UsageError`) instead of creating an empty store
   * there. `report` sets it: a typo in the path should not print an empty report.
   */
  mustExist?: boolean
  /**
   * Called with Redis connection errors instead of ioredis's default `Unhandled error event` log. `report`
   * sets it: the failed command reports the problem once.
   */
  onRedisError?: (error: Error) => void
}

/** The `--store` forms, for usage texts and errors. */
export const STORE_FORMS = 'memory, file:<dir>, redis://host:port or postgres://user@host:port/db'

/**
 * Opens `memory`, `file:<dir>` or `redis://...`.
 *
 * @throws UsageError for an unknown form or a missing directory (with `mustExist`).
 */
export async function openStore(spec: string, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  if (spec === 'memory') {
    const { memoryStore } = await import('../stores/memory.js')
    const store = memoryStore()
    return { store, close: () => store.close(), label: 'memory (not durable)' }
  }
  if (spec.startsWith('file:')) {
    const path = spec.slice('file:'.length)
    if (path === '') throw new UsageError('--store file:<dir> needs a directory, e.g. file:./budget-data')
    if (options.mustExist === true) {
      let isDirectory: boolean
      try {
        isDirectory = statSync(path).isDirectory()
      } catch {
        throw new UsageError(`--store ${spec}: no store at ${path} (the directory does not exist)`)
      }
      if (!isDirectory) throw new UsageError(`--store ${spec}: ${path} is not a directory`)
    }
    const { fileStore } = await import('../stores/file.js')
    const store = fileStore({ path })
    return { store, close: () => store.close(), label: `file ${path}` }
  }
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) {
    let host: string
    try {
      host = new URL(spec).host
    } catch {
      throw new UsageError(`--store ${JSON.stringify(spec)} is not a valid Redis URL`)
    }
    let Redis: new (
      url: string,
      options?: Record<string, unknown>,
    ) => { quit(): Promise<unknown>; on(event: 'error', listener: (error: Error) => void): unknown }
    try {
      const ioredis = (await import('ioredis')) as unknown as { default: typeof Redis }
      Redis = ioredis.default
    } catch {
      throw new Error('--store redis://... needs the `ioredis` package: npm install ioredis')
    }
    const { redisStore } = await import('../stores/redis.js')
    const client = new Redis(spec, { maxRetriesPerRequest: 2 })
    if (options.onRedisError !== undefined) client.on('error', options.onRedisError)
    const store = redisStore({ client: client as never })
    return {
      store,
      close: async () => {
        await store.close()
        await client.quit()
      },
      label: `redis ${host}`,
    }
  }
  // `report` (mustExist) reads only: it does not create the tables.
  if (isPostgresUrl(spec)) return openPostgres(spec, { migrate: options.mustExist !== true })
  throw new UsageError(`--store must be ${STORE_FORMS}, got ${JSON.stringify(spec)}`)
}
