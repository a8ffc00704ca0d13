/**
 * `fileStore({ path })`: the durable, crash-safe store for one machine, shared by several processes.
 *
 * How it works (details in `docs/stores/file.md`):
 * - Every state-changing request (reserve, commit, release, reset, putBudget) is journaled as JSON together with
 *   its `now`, and applied through the same pure ledger functions as the memory store. Replaying the journal
 *   therefore rebuilds exactly the same state, in this process after a restart and in every other process that
 *   shares the directory.
 * - Group commit: requests queued while a write is in flight share the next frame, which is written with one
 *   `write` and made durable with one `fdatasync` before any of them is acknowledged (`durability: 'fsync'`).
 * - A cross-process lock file serialises writers. Under the lock a process first applies the frames other
 *   processes appended since it last looked (from its last offset), then applies its own batch, appends, syncs
 *   and releases.
 * - Snapshots bound the journal: the state is written to a temporary file, synced, renamed, and the directory
 *   synced; then a fresh journal naming the new snapshot replaces the old one the same way.
 * - Recovery drops a torn last frame and refuses to open when damage is followed by valid data (mid-file
 *   corruption), unless `repair: true`.
 *
 * Node only: this module imports `node:fs`.
 *
 * @packageDocumentation
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, linkSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, write, writeSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { join, resolve as resolvePath } from 'node:path'
import { z } from 'zod'
import * as ledger from './ledger/ledger.js'
import type { LedgerState } from './ledger/ledger.js'
import { BudgetConfigError, InvalidInputError, StorageError } from '../errors.js'
import { encodeFrame, findNextValidFrame, FRAME_HEADER_BYTES, MAX_JOURNAL_FRAME_BYTES, MAX_SNAPSHOT_FRAME_BYTES, readFrame } from './file/format.js'
import { FileLock, removeDeadLockFiles, unlinkQuietly } from './file/lock.js'
import type {
  Balance,
  BalancesRequest,
  BudgetStore,
  CommitRequest,
  CommitResult,
  JsonValue,
  PutBudgetRequest,
  PutBudgetResult,
  ReleaseRequest,
  ReleaseResult,
  ReserveRequest,
  ReserveResult,
  ResetRequest,
} from './types.js'

/** The points of a compaction, in order, at which the internal `faults.compactionStep` hook is called. */
export type CompactionStep =
  | 'snapshot-written'
  | 'snapshot-synced'
  | 'snapshot-renamed'
  | 'directory-synced'
  | 'journal-written'
  | 'journal-renamed'
  | 'journal-directory-synced'
  | 'done'

/**
 * Fault injection for the store's own crash and I/O-error tests.
 *
 * @internal Not part of the public API; may change in any release.
 */
export interface FileStoreFaults {
  /**
   * Called before each journal write of `bytes` bytes. Throw (for example an error with `code: 'ENOSPC'`) to
   * fail the write; return a number `n < bytes` to write only the first `n` bytes and then fail with `ENOSPC`.
   */
  beforeWrite?(bytes: number): number | void
  /** Called after a journal write, before its sync. */
  afterWrite?(): void
  /** Called before each journal `fdatasync`; throw to fail it. */
  beforeSync?(): void
  /** Called at each step of a compaction. */
  compactionStep?(step: CompactionStep): void
  /** Called right after the cross-process lock was taken. */
  lockAcquired?(): void
}

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
   * Most spend records kept for `querySpend`; the oldest are dropped beyond it. Stored in the journal when the
   * directory is created; reopening with a different value is an error (every process must replay the same
   * way). Default `100_000`; `Infinity` keeps all.
   */
  maxRecords?: number
  /** Compact (snapshot the state, start a fresh journal) when the journal grows beyond this many bytes. Default 64 MiB. */
  compactBytes?: number
  /**
   * A lock whose holder stopped heart-beating this long ago (ms) is taken over. A holder on this host that is
   * dead (its pid is gone) is taken over at once. Default `10_000`.
   */
  staleLockMs?: number
  /** Give up waiting for the lock after this many ms with a `StorageError`. Default `30_000`. */
  lockTimeoutMs?: number
  /**
   * Open a journal with mid-file corruption by dropping the damaged bytes (and every operation in them). A copy
   * of the damaged journal is kept as `journal.corrupt-<time>.log`; what was dropped is in
   * {@link FileStore.open}'s report. Default `false`: such a journal refuses to open.
   */
  repair?: boolean
  /** Most operations in one group commit. Default `4096`. */
  maxBatchOperations?: number
  /** @internal Fault injection for the store's own tests. */
  faults?: FileStoreFaults
}

/** What opening (recovering) the store found and did. */
export interface FileStoreRecovery {
  /** Snapshot generation the state was loaded from (0: no snapshot yet). */
  generation: number
  /** Journal frames (group commits) replayed. */
  framesReplayed: number
  /** Operations replayed from the journal. */
  operationsReplayed: number
  /** Bytes of a torn last frame that were truncated (a crash during a write), 0 if none. */
  truncatedTailBytes: number
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
  /** Torn tails this process truncated. */
  tornTailsTruncated: number
  /** Stale locks this process broke. */
  staleLocksBroken: number
}

/** A {@link BudgetStore} on local files, with a few file-specific methods. */
export interface FileStore extends BudgetStore {
  /** The store's directory, absolute. */
  readonly path: string
  /**
   * Opens (recovers) the store now instead of at the first operation, and reports what recovery found. Throws
   * a `StorageError` when the journal is corrupt and `repair` is not set.
   */
  open(): Promise<FileStoreRecovery>
  /** Writes a snapshot and starts a fresh journal now. */
  compact(): Promise<void>
  /** Counters, for diagnostics. */
  stats(): FileStoreStats
}

const optionsSchema = z.object({
  path: z.string().min(1),
  durability: z.enum(['fsync', 'batch']).optional(),
  syncIntervalMs: z.number().int().min(1).max(60_000).optional(),
  maxRecords: z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.literal(Number.POSITIVE_INFINITY)]).optional(),
  compactBytes: z.union([z.number().int().min(4096), z.literal(Number.POSITIVE_INFINITY)]).optional(),
  staleLockMs: z.number().int().min(50).max(3_600_000).optional(),
  lockTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  repair: z.boolean().optional(),
  maxBatchOperations: z.number().int().min(1).max(1_000_000).optional(),
  faults: z.any().optional(),
})

const JOURNAL = 'journal.log'
const JOURNAL_TMP = 'journal.tmp'
/** A frame is closed once its payload passes this many characters; the rest of the queue goes in the next one. */
const FRAME_SOFT_LIMIT = 8 * 1024 * 1024
/** Yield to the event loop after this much synchronous replay work (ms), so the lock heartbeat keeps beating. */
const REPLAY_SLICE_MS = 50

type Operation =
  | { o: 'r'; q: ReserveRequest }
  | { o: 'c'; q: CommitRequest }
  | { o: 'l'; q: ReleaseRequest }
  | { o: 'z'; q: ResetRequest }
  | { o: 'b'; q: PutBudgetRequest }

function applyOperation(state: LedgerState, operation: Operation): unknown {
  switch (operation.o) {
    case 'r':
      return ledger.reserve(state, operation.q)
    case 'c':
      return ledger.commit(state, operation.q)
    case 'l':
      return ledger.release(state, operation.q)
    case 'z':
      return ledger.reset(state, operation.q)
    case 'b':
      return structuredClone(ledger.putBudget(state, operation.q))
    default:
      throw new Error(`unknown journal operation ${JSON.stringify((operation as { o?: unknown }).o)}`)
  }
}

/**
 * The journal line of a validated request, and the operation exactly as a replay of that line will see it (not the
 * caller's object, which may have extra or undefined fields, or change before the batch runs). Requests of fixed
 * shape are copied field by field and the copy is serialised (safe integers, finite numbers and strings survive
 * JSON unchanged); free-form spend records and budget definitions are serialised once and parsed back.
 * Throws when the request cannot be represented as JSON.
 */
function encodeOperation(kind: Operation['o'], request: unknown): { line: string; operation: Operation } {
  switch (kind) {
    case 'r': {
      const q = request as ReserveRequest
      const entries = q.entries.map((e) => ({ key: e.key, amount: e.amount, limit: e.limit, expiresAt: e.expiresAt }))
      const copy: ReserveRequest = { callId: q.callId, now: q.now, holdExpiresAt: q.holdExpiresAt, entries }
      return { line: `{"o":"r","q":${JSON.stringify(copy)}}`, operation: { o: 'r', q: copy } }
    }
    case 'c': {
      const q = request as CommitRequest
      const entries = q.entries.map((e) => ({ key: e.key, amount: e.amount, expiresAt: e.expiresAt }))
      const copy: CommitRequest = { callId: q.callId, now: q.now, entries, dedupeUntil: q.dedupeUntil }
      const head = JSON.stringify(copy)
      if (q.record === undefined) return { line: `{"o":"c","q":${head}}`, operation: { o: 'c', q: copy } }
      const record = JSON.stringify(q.record)
      copy.record = JSON.parse(record) as NonNullable<CommitRequest['record']>
      return { line: `{"o":"c","q":${head.slice(0, -1)},"record":${record}}}`, operation: { o: 'c', q: copy } }
    }
    case 'l': {
      const q = request as ReleaseRequest
      const copy: ReleaseRequest = q.holdExpiresAt === undefined ? { callId: q.callId, now: q.now } : { callId: q.callId, now: q.now, holdExpiresAt: q.holdExpiresAt }
      return { line: `{"o":"l","q":${JSON.stringify(copy)}}`, operation: { o: 'l', q: copy } }
    }
    case 'z': {
      const q = request as ResetRequest
      const copy: ResetRequest = { keys: [...q.keys], now: q.now }
      return { line: `{"o":"z","q":${JSON.stringify(copy)}}`, operation: { o: 'z', q: copy } }
    }
    default: {
      const line = `{"o":"${kind}","q":${JSON.stringify(request)}}`
      return { line, operation: JSON.parse(line) as Operation }
    }
  }
}

interface Pending {
  /** The journal line of a state-changing operation. */
  line?: string
  operation?: Operation
  /** A read, answered from the caught-up state. */
  read?: (state: LedgerState) => unknown
  compact?: boolean
  resolve(value: unknown): void
  reject(error: unknown): void
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown }
}

function errorCode(error: unknown): string {
  return String((error as { code?: unknown } | null)?.code ?? (error as Error)?.message ?? error)
}

function ioError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code })
}

function describeNumber(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value
}

/**
 * A durable budget store in a local directory, shared by every process that opens the same directory.
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
  const parsed = optionsSchema.safeParse(options)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue?.path.join('.') || 'options'
    const given = issue !== undefined && issue.path.length > 0 ? (options as unknown as Record<string, unknown>)?.[String(issue.path[0])] : options
    throw new BudgetConfigError(field, `fileStore: \`${field}\` is invalid (${issue?.message ?? 'invalid'}), got ${describeNumber(given)}`)
  }
  const directory = resolvePath(options.path)
  const durability = options.durability ?? 'fsync'
  const syncIntervalMs = options.syncIntervalMs ?? 100
  const configuredMaxRecords = options.maxRecords
  const compactBytes = options.compactBytes ?? 64 * 1024 * 1024
  const repair = options.repair ?? false
  const maxBatch = options.maxBatchOperations ?? 4096
  const faults = options.faults ?? {}
  const journalPath = join(directory, JOURNAL)
  const lock = new FileLock(directory, {
    staleMs: options.staleLockMs ?? 10_000,
    timeoutMs: options.lockTimeoutMs ?? 30_000,
    onAcquired: () => faults.lockAcquired?.(),
  })

  // ---- engine state (valid only while `state !== null`)
  let state: LedgerState | null = null
  let fd: number | null = null
  let journalIno = -1
  let offset = 0
  let generation = 0
  let maxRecords = Number.POSITIVE_INFINITY
  let headerBytes = 0
  let needsReload = true
  let fatal: StorageError | BudgetConfigError | null = null
  let recovery: FileStoreRecovery | null = null
  let unsyncedBytes = 0
  let syncError: unknown = null
  let closed = false
  let directoryReady = false
  let compactionRetryAt = 0
  const stats: FileStoreStats = {
    generation: 0,
    journalBytes: 0,
    framesWritten: 0,
    operationsWritten: 0,
    framesCaughtUp: 0,
    compactions: 0,
    tornTailsTruncated: 0,
    staleLocksBroken: 0,
  }

  // ---- small synchronous helpers
  const fsyncDirectory = (): void => {
    let dirFd: number
    try {
      dirFd = openSync(directory, 'r')
    } catch (error) {
      if (process.platform === 'win32') return // directories cannot be opened for sync there; NTFS journals renames
      throw error
    }
    try {
      fdatasyncSync(dirFd)
    } catch (error) {
      if (process.platform !== 'win32') throw error
    } finally {
      closeSync(dirFd)
    }
  }
  const writeDurably = (file: string, data: Buffer, step?: { written: CompactionStep; synced: CompactionStep }): void => {
    const out = openSync(file, 'w', 0o644)
    try {
      let done = 0
      while (done < data.length) done += writeSync(out, data, done, data.length - done)
      if (step) faults.compactionStep?.(step.written)
      fdatasyncSync(out)
      if (step) faults.compactionStep?.(step.synced)
    } finally {
      closeSync(out)
    }
  }
  const readWhole = (file: number, from: number, to: number): Buffer => {
    const buffer = Buffer.allocUnsafe(to - from)
    let done = 0
    while (done < buffer.length) {
      const n = readSync(file, buffer, done, buffer.length - done, from + done)
      if (n === 0) return buffer.subarray(0, done)
      done += n
    }
    return buffer
  }
  const headerFrame = (gen: number, records: number): Buffer =>
    encodeFrame(JSON.stringify({ journal: 1, generation: gen, maxRecords: Number.isFinite(records) ? records : null }))
  const closeJournal = (): void => {
    if (fd === null) return
    try {
      // In batch mode a timer sync may be in flight on this descriptor; sync here regardless of the counter.
      if (unsyncedBytes > 0 || durability === 'batch') fdatasyncSync(fd)
      unsyncedBytes = 0
    } catch (error) {
      syncError = error
    }
    closeSync(fd)
    fd = null
  }
  const corrupt = (what: string, cause?: unknown): StorageError =>
    new StorageError(
      'file',
      `${what}. The store refuses to open so that nothing is silently lost. Restore the directory ${directory} from a backup, or open it once with \`repair: true\` to drop the damaged part (a copy of the journal is kept; the open() report lists what was dropped).`,
      { cause, retryable: false },
    )

  // ---- replay
  interface ReplayOutcome {
    frames: number
    operations: number
    truncatedTailBytes: number
    dropped: { offset: number; length: number; problem: string }[]
  }

  /**
   * Applies the frames of `buffer` (which holds the journal from byte `base`) from `start`. A damaged frame with
   * nothing valid after it is a torn tail and is truncated; with valid frames after it, it is corruption.
   */
  const replay = async (target: LedgerState, buffer: Buffer, base: number, start: number, allowRepair: boolean): Promise<ReplayOutcome> => {
    const outcome: ReplayOutcome = { frames: 0, operations: 0, truncatedTailBytes: 0, dropped: [] }
    let at = start
    let sliceStart = Date.now()
    while (at < buffer.length) {
      const frame = readFrame(buffer, at, MAX_JOURNAL_FRAME_BYTES)
      if (!frame.ok) {
        const next = findNextValidFrame(buffer, at, MAX_JOURNAL_FRAME_BYTES)
        if (next === -1) {
          outcome.truncatedTailBytes = buffer.length - at
          if (fd !== null) {
            ftruncateSync(fd, base + at)
            fdatasyncSync(fd)
          }
          stats.tornTailsTruncated++
          break
        }
        if (!allowRepair) {
          throw corrupt(`file store: the journal ${journalPath} is damaged at byte ${base + at} (${frame.problem}) and ${buffer.length - next} bytes of valid frames follow it (mid-file corruption)`)
        }
        outcome.dropped.push({ offset: base + at, length: next - at, problem: frame.problem })
        at = next
        continue
      }
      let operations: Operation[]
      try {
        operations = JSON.parse(frame.payload.toString('utf8')) as Operation[]
      } catch (error) {
        throw corrupt(`file store: the journal ${journalPath} has a frame at byte ${base + at} whose checksum is right but whose content is not JSON`, error)
      }
      if (!Array.isArray(operations)) throw corrupt(`file store: the journal ${journalPath} has an unexpected frame at byte ${base + at}`)
      for (const operation of operations) {
        try {
          applyOperation(target, operation)
        } catch {
          // Operations that failed when first applied are never journaled, so this does not happen; a replay
          // that disagrees must not stop the store from opening.
        }
      }
      outcome.frames++
      outcome.operations += operations.length
      at = frame.end
      if (Date.now() - sliceStart > REPLAY_SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        sliceStart = Date.now()
      }
    }
    return outcome
  }

  const loadSnapshot = (gen: number): LedgerState => {
    const file = join(directory, `snapshot-${gen}.json`)
    let snapshotFd: number
    try {
      snapshotFd = openSync(file, 'r')
    } catch (error) {
      throw corrupt(`file store: the journal names the snapshot ${file}, which cannot be opened (${errorCode(error)})`, error)
    }
    let buffer: Buffer
    try {
      buffer = readWhole(snapshotFd, 0, fstatSync(snapshotFd).size)
    } finally {
      closeSync(snapshotFd)
    }
    const frame = readFrame(buffer, 0, MAX_SNAPSHOT_FRAME_BYTES)
    if (!frame.ok || frame.end !== buffer.length) throw corrupt(`file store: the snapshot ${file} is damaged (${frame.ok ? 'trailing bytes' : frame.problem})`)
    try {
      const content = JSON.parse(frame.payload.toString('utf8')) as { generation: number; ledger: JsonValue }
      if (content.generation !== gen) throw new Error(`snapshot of generation ${content.generation}`)
      return ledger.restoreLedger(content.ledger, { maxRecords })
    } catch (error) {
      throw corrupt(`file store: the snapshot ${file} cannot be read (${String(error)})`, error)
    }
  }

  /** Removes temporary files and snapshots of other generations (left by an interrupted compaction). */
  const removeStrays = (keepGeneration: number): void => {
    for (const name of readdirSync(directory)) {
      const snapshot = /^snapshot-(\d+)\.json(\.tmp)?$/.exec(name)
      const stray = name === JOURNAL_TMP || (snapshot !== null && (snapshot[2] !== undefined || Number(snapshot[1]) !== keepGeneration))
      if (stray) unlinkSync(join(directory, name))
    }
    removeDeadLockFiles(directory)
  }

  /** Creates a fresh journal (generation 0) when the directory has none. */
  const createJournal = (): void => {
    const names = readdirSync(directory)
    if (names.some((name) => /^snapshot-\d+\.json$/.test(name))) {
      throw corrupt(`file store: ${directory} has snapshots but no ${JOURNAL}`)
    }
    const records = configuredMaxRecords ?? 100_000
    writeDurably(join(directory, JOURNAL_TMP), headerFrame(0, records))
    renameSync(join(directory, JOURNAL_TMP), journalPath)
    fsyncDirectory()
  }

  /** (Re)builds the state from disk: snapshot plus journal. Runs under the lock. */
  const loadAll = async (): Promise<FileStoreRecovery> => {
    state = null
    closeJournal()
    mkdirSync(directory, { recursive: true })
    try {
      fd = openSync(journalPath, 'r+')
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error
      createJournal()
      fd = openSync(journalPath, 'r+')
    }
    const stat = fstatSync(fd)
    journalIno = stat.ino
    const buffer = readWhole(fd, 0, stat.size)
    const header = readFrame(buffer, 0, MAX_JOURNAL_FRAME_BYTES)
    if (!header.ok) throw corrupt(`file store: the header of the journal ${journalPath} is damaged (${header.problem})`)
    let content: { journal?: unknown; generation?: unknown; maxRecords?: unknown }
    try {
      content = JSON.parse(header.payload.toString('utf8')) as typeof content
    } catch (error) {
      throw corrupt(`file store: the header of the journal ${journalPath} is not JSON`, error)
    }
    if (content.journal !== 1 || typeof content.generation !== 'number') throw corrupt(`file store: ${journalPath} is not an llm-budget journal of version 1`)
    generation = content.generation
    maxRecords = typeof content.maxRecords === 'number' ? content.maxRecords : Number.POSITIVE_INFINITY
    if (configuredMaxRecords !== undefined && configuredMaxRecords !== maxRecords) {
      fatal = new BudgetConfigError(
        'maxRecords',
        `fileStore: \`maxRecords\` is ${configuredMaxRecords} but the store in ${directory} was created with ${maxRecords}; every process must use the same value (omit the option to use the stored one)`,
      )
      throw fatal
    }
    headerBytes = header.end
    removeStrays(generation)
    const target = generation === 0 ? ledger.createLedger({ maxRecords }) : loadSnapshot(generation)
    const outcome = await replay(target, buffer, 0, header.end, repair)
    offset = buffer.length - outcome.truncatedTailBytes
    state = target
    needsReload = false
    let preservedAs: string | null = null
    if (outcome.dropped.length > 0) {
      preservedAs = join(directory, `journal.corrupt-${Date.now()}.log`)
      linkSync(journalPath, preservedAs)
      compactLocked()
    }
    stats.generation = generation
    stats.journalBytes = offset
    return {
      generation,
      framesReplayed: outcome.frames,
      operationsReplayed: outcome.operations,
      truncatedTailBytes: outcome.truncatedTailBytes,
      droppedRanges: outcome.dropped,
      preservedAs,
    }
  }

  /** Brings the state up to date with what other processes appended. Runs under the lock. */
  const catchUp = async (): Promise<void> => {
    if (fatal !== null) throw fatal
    if (state === null || needsReload || fd === null) {
      const report = await loadAll()
      recovery ??= report
      return
    }
    let stat: Stats
    try {
      stat = statSync(journalPath)
    } catch (error) {
      if (errorCode(error) === 'ENOENT') {
        await loadAll()
        return
      }
      throw error
    }
    if (stat.ino !== journalIno || stat.size < offset) {
      await loadAll() // another process compacted (or the file was replaced)
      return
    }
    if (stat.size === offset) return
    const buffer = readWhole(fd, offset, stat.size)
    try {
      const outcome = await replay(state, buffer, offset, 0, false)
      stats.framesCaughtUp += outcome.frames
      offset += buffer.length - outcome.truncatedTailBytes
    } catch (error) {
      needsReload = true
      if (repair) {
        await loadAll()
        return
      }
      throw error
    }
  }

  /** Writes a snapshot and swaps in a fresh journal. Runs under the lock with the state caught up. */
  const compactLocked = (): void => {
    if (state === null || fd === null) return
    const next = generation + 1
    const snapshotPath = join(directory, `snapshot-${next}.json`)
    let switched = false
    try {
      const snapshot = encodeFrame(JSON.stringify({ generation: next, ledger: ledger.snapshotLedger(state) }))
      writeDurably(`${snapshotPath}.tmp`, snapshot, { written: 'snapshot-written', synced: 'snapshot-synced' })
      renameSync(`${snapshotPath}.tmp`, snapshotPath)
      faults.compactionStep?.('snapshot-renamed')
      fsyncDirectory()
      faults.compactionStep?.('directory-synced')
      const header = headerFrame(next, maxRecords)
      writeDurably(join(directory, JOURNAL_TMP), header)
      faults.compactionStep?.('journal-written')
      renameSync(join(directory, JOURNAL_TMP), journalPath)
      switched = true // the commit point: from here the new generation is the store
      faults.compactionStep?.('journal-renamed')
      fsyncDirectory()
      faults.compactionStep?.('journal-directory-synced')
      const previous = generation
      closeJournal()
      fd = openSync(journalPath, 'r+')
      journalIno = fstatSync(fd).ino
      generation = next
      headerBytes = header.length
      offset = header.length
      if (previous > 0) unlinkQuietly(join(directory, `snapshot-${previous}.json`)) // else removed at the next open
      faults.compactionStep?.('done')
    } catch (error) {
      if (switched) {
        needsReload = true // our descriptor may still point at the old journal: reload from the new generation
      } else {
        // The old generation is intact; remove what this attempt left behind (also removed at the next open).
        unlinkQuietly(`${snapshotPath}.tmp`)
        unlinkQuietly(snapshotPath)
        unlinkQuietly(join(directory, JOURNAL_TMP))
      }
      throw error
    }
    stats.compactions++
    stats.generation = generation
  }

  /** Appends one frame at the end of the journal; on any failure, truncates back so nothing is half-written. */
  const appendFrame = async (payload: string, operations: number): Promise<void> => {
    const frame = encodeFrame(payload)
    const journalFd = fd as number
    try {
      const partial = faults.beforeWrite?.(frame.length)
      if (typeof partial === 'number') {
        await writeAt(journalFd, frame.subarray(0, partial), offset)
        throw ioError('ENOSPC', 'no space left on device (injected)')
      }
      await writeAt(journalFd, frame, offset)
      faults.afterWrite?.()
      if (durability === 'fsync') {
        faults.beforeSync?.()
        await datasync(journalFd)
      } else {
        unsyncedBytes += frame.length
      }
    } catch (error) {
      needsReload = true // the in-memory state has this frame's operations applied; rebuild it from disk
      let rolledBack = true
      try {
        ftruncateSync(journalFd, offset)
        fdatasyncSync(journalFd)
      } catch {
        rolledBack = false
      }
      throw new StorageError(
        'file',
        `cannot append to the journal ${journalPath} (${errorCode(error)}); ${
          rolledBack ? `nothing was written (rolled back to byte ${offset})` : 'the roll back failed too, so the operations may or may not be recorded'
        }. The ${operations} operation(s) were not acknowledged; retrying with the same call ids is safe.`,
        { cause: error, retryable: true },
      )
    }
    offset += frame.length
    stats.framesWritten++
    stats.operationsWritten += operations
    stats.journalBytes = offset
  }

  // ---- the queue and group commit
  const queue: Pending[] = []
  let draining: Promise<void> | null = null

  const runBatch = async (batch: Pending[]): Promise<void> => {
    let failure: unknown = null
    try {
      if (!directoryReady) {
        mkdirSync(directory, { recursive: true })
        directoryReady = true
      }
      await lock.acquire()
    } catch (error) {
      for (const p of batch) p.reject(error instanceof StorageError ? error : new StorageError('file', `cannot create ${directory}: ${String(error)}`, { cause: error }))
      return
    }
    const settled: Pending[] = []
    const requeued = new Set<Pending>()
    const requeue = (rest: Pending[]): void => {
      for (const p of rest) requeued.add(p)
      queue.unshift(...rest)
    }
    let compactRequested = false
    try {
      await catchUp()
      if (syncError !== null && fd !== null) {
        try {
          await datasync(fd)
          syncError = null
        } catch (error) {
          throw new StorageError('file', `cannot sync the journal ${journalPath} (${errorCode(error)}); operations acknowledged in the last \`syncIntervalMs\` may be lost`, { cause: error })
        }
      }
      const current = state as LedgerState
      const lines: string[] = []
      let characters = 0
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i]!
        if (p.operation !== undefined) {
          try {
            p.outcome = { ok: true, value: applyOperation(current, p.operation) }
          } catch (error) {
            // Refused by the ledger after it may have swept expired entries: answer it, write the operations
            // before it, rebuild the state from disk, and run the rest in the next batch.
            p.outcome = { ok: false, error }
            settled.push(p)
            needsReload = true
            requeue(batch.slice(i + 1))
            break
          }
          lines.push(p.line as string)
          characters += (p.line as string).length
          settled.push(p)
          if (characters > FRAME_SOFT_LIMIT) {
            requeue(batch.slice(i + 1))
            break
          }
        } else {
          if (p.compact === true) compactRequested = true
          try {
            p.outcome = { ok: true, value: p.read?.(current) }
          } catch (error) {
            p.outcome = { ok: false, error }
          }
          settled.push(p)
        }
      }
      if (lines.length > 0) await appendFrame(`[${lines.join(',')}]`, lines.length)
      if (compactRequested || (offset - headerBytes > Math.max(compactBytes, compactionRetryAt) && !needsReload)) {
        if (needsReload) await catchUp()
        try {
          compactLocked()
          compactionRetryAt = 0
        } catch (error) {
          // Do not retry on every batch (a full disk would make each batch write a snapshot): wait for the journal
          // to grow by another quarter of `compactBytes`.
          compactionRetryAt = offset - headerBytes + Math.max(compactBytes / 4, 1024 * 1024)
          if (compactRequested) throw new StorageError('file', `compaction failed (${errorCode(error)}); the journal is unchanged`, { cause: error })
        }
      }
    } catch (error) {
      failure = error
    } finally {
      lock.release()
      stats.staleLocksBroken = lock.brokenStaleLocks
    }
    if (failure !== null) {
      const error =
        failure instanceof StorageError || failure instanceof InvalidInputError
          ? failure
          : new StorageError('file', `I/O error in ${directory}: ${String(failure)}`, { cause: failure })
      for (const p of batch) {
        if (requeued.has(p)) continue
        if (p.outcome !== undefined && !p.outcome.ok) p.reject(p.outcome.error)
        else p.reject(error)
      }
      return
    }
    for (const p of settled) {
      const outcome = p.outcome!
      if (outcome.ok) p.resolve(outcome.value)
      else p.reject(outcome.error)
    }
  }

  const drain = async (): Promise<void> => {
    await Promise.resolve() // let the caller's synchronous burst queue up: it becomes one group commit
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch)
      try {
        await runBatch(batch)
      } catch (error) {
        // runBatch answers every request itself; this only guards the queue against a bug in it.
        for (const p of batch) p.reject(new StorageError('file', `internal error: ${String(error)}`, { cause: error }))
      }
    }
    draining = null // synchronously after the last check of the queue, so no request is left behind
  }

  const enqueue = <T>(pending: Omit<Pending, 'resolve' | 'reject'>): Promise<T> => {
    if (closed) return Promise.reject(new StorageError('file', 'the store is closed', { retryable: false }))
    return new Promise<T>((resolve, reject) => {
      const entry = pending as Pending
      entry.resolve = resolve as (value: unknown) => void
      entry.reject = reject
      queue.push(entry)
      draining ??= drain()
    })
  }

  /** Journals a validated, state-changing request. */
  const mutate = <T>(kind: Operation['o'], request: unknown, validate: () => void): Promise<T> => {
    try {
      validate()
    } catch (error) {
      return Promise.reject(error)
    }
    let encoded: { line: string; operation: Operation }
    try {
      encoded = encodeOperation(kind, request)
    } catch (error) {
      return Promise.reject(new InvalidInputError('request', `the request cannot be stored as JSON: ${String(error)}`, { cause: error }))
    }
    return enqueue<T>(encoded)
  }

  const read = <T>(reader: (state: LedgerState) => T, validate?: () => void): Promise<T> => {
    try {
      validate?.()
    } catch (error) {
      return Promise.reject(error)
    }
    return enqueue<T>({ read: reader })
  }

  let syncTimer: ReturnType<typeof setInterval> | null = null
  if (durability === 'batch') {
    syncTimer = setInterval(() => {
      if (fd === null || unsyncedBytes === 0) return
      const pendingBytes = unsyncedBytes
      const syncedFd = fd
      unsyncedBytes = 0
      datasync(syncedFd).catch((error: unknown) => {
        if (fd !== syncedFd) return // closed meanwhile; closing synced it
        unsyncedBytes += pendingBytes
        syncError = error
      })
    }, syncIntervalMs)
    syncTimer.unref()
  }

  return {
    name: 'file',
    path: directory,
    reserve: (request) => mutate<ReserveResult>('r', request, () => ledger.validateReserve(request)),
    commit: (request) => mutate<CommitResult>('c', request, () => ledger.validateCommit(request)),
    release: (request) => mutate<ReleaseResult>('l', request, () => ledger.validateRelease(request)),
    reset: (request) => mutate<void>('z', request, () => ledger.validateKeys(request)),
    putBudget: (request) => mutate<PutBudgetResult>('b', request, () => ledger.validatePutBudget(request)),
    balances: (request: BalancesRequest) =>
      read((s) => ledger.peekBalances(s, request), () => ledger.validateKeys(request)),
    getBudget: (scope) => read((s) => structuredClone(ledger.getBudget(s, scope)), () => ledger.validateScope(scope)),
    listBudgets: () => read((s) => structuredClone(ledger.listBudgets(s))),
    getHistory: (scope) => read((s) => structuredClone(ledger.getHistory(s, scope)), () => ledger.validateScope(scope)),
    queryRecords: (query) => read((s) => structuredClone(ledger.queryRecords(s, query))),
    queryRollups: (query) => read((s) => ledger.queryRollups(s, query)),
    async open() {
      await read(() => undefined)
      return structuredClone(recovery as FileStoreRecovery)
    },
    async compact() {
      await enqueue<void>({ read: () => undefined, compact: true })
    },
    stats: () => ({ ...stats, staleLocksBroken: lock.brokenStaleLocks }),
    async close() {
      if (closed) return
      closed = true
      while (draining !== null) await draining
      if (syncTimer !== null) clearInterval(syncTimer)
      closeJournal()
      if (syncError !== null) {
        const error = syncError
        syncError = null
        throw new StorageError('file', `the last sync of ${journalPath} failed (${errorCode(error)})`, { cause: error })
      }
    },
  }
}

function writeAt(fd: number, data: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0
    const step = (): void => {
      if (done >= data.length) {
        resolve()
        return
      }
      write(fd, data, done, data.length - done, position + done, (error, written) => {
        if (error) reject(error)
        else {
          done += written
          step()
        }
      })
    }
    step()
  })
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())))
}

