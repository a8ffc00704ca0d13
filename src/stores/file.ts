/**
 * `fileStore({ path })`: the durable, crash-safe store for one machine, shared by several processes; and
 * `fileOutbox({ path })`, the durable outbox of `httpStore` on Node.
 *
 * How the store works (details in `docs/stores/file.md`):
 * - Every state-changing request (reserve, commit, release, reset, putBudget) is journaled as JSON together with
 *   its `now`, and applied through the same pure ledger functions as the memory store. Replaying the journal
 *   therefore rebuilds exactly the same state, in this process after a restart and in every other process that
 *   shares the directory.
 * - Group commit: requests queued while a write is in flight share the next frame, which is appended with one
 *   `write` and made durable with one `fdatasync` before any of them is acknowledged (`durability: 'fsync'`).
 * - A cross-process lock file serialises writers. Under the lock a process first applies the frames other
 *   processes appended since it last looked, then applies its own batch, appends, syncs, checks that it still
 *   holds the lock (fencing: a process frozen past `staleLockMs` acknowledges nothing) and releases.
 * - Snapshots bound the journal: the state is written to a snapshot file, the old journal is sealed, and a fresh
 *   journal naming the new snapshot replaces it.
 * - Recovery skips a torn last frame (a crash during a write) and refuses to open on any other damage, even in
 *   the last frame, unless `repair: true`; whatever is dropped is kept aside and reported.
 *
 * Node only: this module imports `node:fs`.
 *
 * @packageDocumentation
 */
import type { BudgetStore } from './types.js'
import { createFileStore } from './file/store.js'
import type { FileStoreRecovery, FileStoreStats } from './file/types.js'

export type { FileStoreRecovery, FileStoreStats } from './file/types.js'
export { fileOutbox } from './http-outbox-file.js'
export type { FileOutbox, FileOutboxOptions, FileOutboxRecovery } from './http-outbox-file.js'

/** Options of {@link fileStore}. */
export interface FileStoreOptions {
  /**
   * Directory of the store, for example `.llm-budget/`. Created (with parents) if missing. Must be on a local
   * disk: the lock and the durability guarantees rely on local POSIX semantics (see `docs/stores/file.md` on
   * network file systems). Every process that shares a budget opens the same directory.
   */
  path: string
  /**
   * When an operation is acknowledged.
   * - `'fsync'` (default): after its journal frame is written and `fdatasync`ed. An acknowledged operation
   *   survives a process crash, an OS crash and a power loss.
   * - `'batch'`: after its frame is written to the OS page cache; the journal is synced every
   *   `syncIntervalMs`. A process crash (even `kill -9`) loses nothing acknowledged; an OS crash or power loss
   *   can lose the operations acknowledged in the last `syncIntervalMs`.
   */
  durability?: 'fsync' | 'batch'
  /** In `'batch'` mode, how often (ms) the journal is synced: the window a power loss can lose. Default `100`. */
  syncIntervalMs?: number
  /**
   * Most spend records kept for `querySpend`; the oldest are dropped beyond it. A record takes about 1.3 KB of memory
   * and 0.7 KB of snapshot. Stored in the journal when the directory is created; reopening with a different value
   * is an error (every process must replay the same way). Default `100_000`; `Infinity` keeps all.
   */
  maxRecords?: number
  /**
   * Spend records whose `endedAt` is older than this many milliseconds are dropped (checked once a minute of store
   * time, in the replay of the journal as when first written; the disk space is reclaimed by the next compaction).
   * Stored in the journal like `maxRecords`. Default `Infinity` (only `maxRecords` applies).
   */
  recordRetentionMs?: number
  /**
   * Daily rollups (per UTC day, scope and model) older than this many milliseconds are dropped. Stored in the
   * journal like `maxRecords`. Default 400 days. A rollup row takes about 265 bytes of memory and 200 of snapshot;
   * a call adds to one row per scope it names (global, user, team, ...).
   */
  rollupRetentionMs?: number
  /**
   * Compact (snapshot the state, start a fresh journal) when the journal grows beyond this many bytes. Default 32 MiB
   * (about 125,000 operations), which keeps opening a store well under a second.
   */
  compactBytes?: number
  /**
   * A lock whose holder stopped heart-beating this long ago (ms) is taken over. A holder on this host that is
   * dead (its pid is gone) is taken over at once. A holder that was only frozen (stopped, swapped out, paused in
   * a debugger) and wakes up after its lock was taken over fails its pending writes with a `StorageError` and
   * acknowledges none of them. Default `10_000`.
   */
  staleLockMs?: number
  /** Give up waiting for the lock after this many ms with a `StorageError`. Default `30_000`. */
  lockTimeoutMs?: number
  /**
   * Open a journal with damage by dropping the damaged bytes (and every operation in them). A copy of the damaged
   * journal is kept as `journal.corrupt-<time>.log`; what was dropped is in {@link FileStore.open}'s report.
   * Default `false`: such a journal refuses to open.
   */
  repair?: boolean
  /** Most operations in one group commit. Default `4096`. */
  maxBatchOperations?: number
}

/** A {@link BudgetStore} on local files, with a few file-specific methods. */
export interface FileStore extends BudgetStore {
  /** The store's directory, absolute. */
  readonly path: string
  /**
   * Opens (recovers) the store now instead of at the first operation, and reports what recovery found. Throws
   * a `StorageError` when the journal is damaged and `repair` is not set.
   */
  open(): Promise<FileStoreRecovery>
  /** Writes a snapshot and starts a fresh journal now. */
  compact(): Promise<void>
  /** Counters, for diagnostics. */
  stats(): FileStoreStats
}

/**
 * A durable budget store in a local directory, shared by every process that opens the same directory.
 *
 * @throws BudgetConfigError for invalid options (an unknown option, a NUL in `path`, a value out of range).
 *
 * @example
 * ```ts
 * import { BudgetManager } from 'llm-budget'
 * import { fileStore } from 'llm-budget/file'
 *
 * const budgets = new BudgetManager({ store: fileStore({ path: '.llm-budget' }) })
 * ```
 */
export function fileStore(options: FileStoreOptions): FileStore {
  return createFileStore(options)
}
