/**
 * The public result types of the file store (re-exported by `llm-budget/file`).
 *
 * @packageDocumentation
 */

/** What opening (recovering) the store found and did. */
export interface FileStoreRecovery {
  /** Snapshot generation the state was loaded from (0: no snapshot yet). */
  generation: number
  /** Journal frames (group commits) replayed. */
  framesReplayed: number
  /** Operations replayed from the journal. */
  operationsReplayed: number
  /**
   * Bytes of a torn last frame (a crash during a write: its length runs past the end of the file) that were
   * skipped, 0 if none. Nothing in it was acknowledged; a copy is kept as {@link tornTailPreservedAs}.
   */
  truncatedTailBytes: number
  /** Where the bytes of a skipped torn last frame were copied, else `null`. */
  tornTailPreservedAs: string | null
  /** Damaged ranges dropped by `repair: true` (byte offsets in the journal before repair). */
  droppedRanges: { offset: number; length: number; problem: string }[]
  /** Where the damaged journal was preserved when a repair dropped data, else `null`. */
  preservedAs: string | null
}

/** Counters of a file store, for diagnostics. */
export interface FileStoreStats {
  /** Current snapshot generation. */
  generation: number
  /** Current journal size in bytes. */
  journalBytes: number
  /** Group commits written by this process. */
  framesWritten: number
  /** Operations written by this process. */
  operationsWritten: number
  /** Frames other processes appended that this process applied. */
  framesCaughtUp: number
  /** Compactions done by this process. */
  compactions: number
  /** Torn last frames this process found and skipped. */
  tornTailsTruncated: number
  /** Stale locks this process broke. */
  staleLocksBroken: number
  /**
   * Writes of this process that were refused because it had lost the lock while writing (it was stopped or
   * stalled for longer than `staleLockMs`): failed with a `StorageError`, never acknowledged.
   */
  fencedWrites: number
}
