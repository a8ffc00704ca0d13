/**
 * Fault injection for the file store's own crash and I/O-error tests. Not part of the public API: tests reach it
 * through `createFileStore(options, faults)` in `./store.ts`, never through `fileStore()`'s options.
 *
 * @internal
 * @packageDocumentation
 */

/** The points of a compaction, in order, at which {@link FileStoreFaults.compactionStep} is called. */
export type CompactionStep =
  | 'snapshot-written'
  | 'snapshot-synced'
  | 'snapshot-renamed'
  | 'directory-synced'
  | 'journal-written'
  | 'journal-sealed'
  | 'journal-renamed'
  | 'journal-directory-synced'
  | 'done'

/** Hooks called at the store's I/O points; a hook that throws makes that step fail. */
export interface FileStoreFaults {
  /**
   * Called before each journal write of `bytes` bytes. Throw (for example an error with `code: 'ENOSPC'`) to
   * fail the write; return a number `n < bytes` to write only the first `n` bytes and then fail with `ENOSPC`.
   */
  beforeWrite?(bytes: number): number | undefined
  /** Called after a journal write, before its sync. */
  afterWrite?(): void
  /** Called before each journal `fdatasync`; throw to fail it. */
  beforeSync?(): void
  /** Called at each step of a compaction. */
  compactionStep?(step: CompactionStep): void
  /** Called right after the cross-process lock was taken. */
  lockAcquired?(): void
}
