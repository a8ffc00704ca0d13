/**
 * The journal of the file store: the snapshot it starts from, the frames appended to it, and the compaction that
 * replaces both. Every method runs with the cross-process lock held (the group-commit queue takes it).
 *
 * Fencing: a process that was frozen for longer than `staleLockMs` may still believe it holds the lock. It can
 * never damage what the new holder writes, nor acknowledge what it wrote next to it:
 * - frames are appended (`O_APPEND`), and each says where it expects to land; a late frame lands after the new
 *   holder's frames and is skipped by every reader (see `./replay.ts`);
 * - before acknowledging, a writer checks that its frame is where it expected and that the lock file is still its
 *   own (same inode, same random token);
 * - a compaction seals the old journal (a frame naming its new journal's temporary file) before renaming the new
 *   journal into place. Whoever finds a sealed journal removes the temporary files its seals name first, so a
 *   compactor frozen just before its rename cannot replace a journal others have since written to; then it
 *   finishes the compaction, after a seal of its own.
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import * as ledger from '../ledger/ledger.js'
import type { LedgerState } from '../ledger/ledger.js'
import { BudgetConfigError, StorageError } from '../../errors.js'
import type { JsonValue } from '../types.js'
import { encodeFrame, MAX_JOURNAL_FRAME_BYTES, MAX_SNAPSHOT_FRAME_BYTES, readFrame } from './format.js'
import type { CompactionStep, FileStoreFaults } from './faults.js'
import { append, datasync, errorCode, fsyncDirectory, ioError, readRange, writeDurably } from './io.js'
import type { FileLock } from './lock.js'
import { removeDeadLockFiles, unlinkQuietly } from './lock.js'
import { applyOperation } from './operations.js'
import type { Operation } from './operations.js'
import { JournalDamage, scanJournal } from './replay.js'
import type { ScanOutcome, Seal } from './replay.js'
import type { FileStoreRecovery, FileStoreStats } from './types.js'
import type { FileRetention, GivenRetention } from './retention.js'
import { retentionFields, retentionMismatch, retentionOfHeader, retentionOfNewStore } from './retention.js'

const JOURNAL = 'journal.log'
/** Yield to the event loop after this much synchronous replay work (ms), so the lock heartbeat keeps beating. */
const REPLAY_SLICE_MS = 50
const OPEN_FLAGS = constants.O_RDWR | constants.O_APPEND

/** What the journal needs from the store's options. */
export interface JournalConfig {
  directory: string
  durability: 'fsync' | 'batch'
  /** `maxRecords`, `recordRetentionMs` and `rollupRetentionMs` as given (undefined: use the stored value). */
  retention: GivenRetention
  /** Records kept by a store created without `maxRecords`. */
  defaultMaxRecords: number
  repair: boolean
  lock: FileLock
  faults: FileStoreFaults
}

interface Header {
  generation: number
  retention: FileRetention
  snapshot: string | null
  bytes: number
}

function headerFrame(generation: number, retention: FileRetention, snapshot: string | null): Buffer {
  return encodeFrame(JSON.stringify({ journal: 2, generation, ...retentionFields(retention), snapshot }))
}

const token = (): string => randomBytes(6).toString('hex')

/**
 * A write that did not land where its writer expected, or whose writer no longer holds the lock. `lockHeld`: the
 * lock is still this process's, so the frame was pushed aside by a process that had lost the lock, and was not
 * recorded: the batch may be run again at once.
 */
export class FencedWrite extends StorageError {
  constructor(
    message: string,
    readonly lockHeld: boolean,
  ) {
    super('file', message, { retryable: true })
  }
}

/** The journal and the ledger state it rebuilds. */
export class Journal {
  /** The caught-up state (null until loaded). */
  state: LedgerState | null = null
  /** Set when the state may disagree with the disk: the next catch-up rebuilds it. */
  needsReload = true
  /** The last failed background sync (batch mode), reported by the next batch or by close. */
  syncError: unknown = null
  readonly stats: FileStoreStats = {
    generation: 0,
    journalBytes: 0,
    framesWritten: 0,
    operationsWritten: 0,
    framesCaughtUp: 0,
    compactions: 0,
    tornTailsTruncated: 0,
    staleLocksBroken: 0,
    fencedWrites: 0,
  }

  readonly #config: JournalConfig
  readonly #path: string
  #fatal: StorageError | BudgetConfigError | null = null
  #fd: number | null = null
  #ino = -1
  #header: Header = {
    generation: 0,
    retention: { maxRecords: Number.POSITIVE_INFINITY, recordRetentionMs: 0, rollupRetentionMs: 0 },
    snapshot: null,
    bytes: 0,
  }
  /** End of the last frame that counts. */
  #end = 0
  /** Where the next catch-up reads from (the start of a torn last frame, or the end of what was read). */
  #resume = 0
  /** The journal's size when last read or written (where an appended frame lands). */
  #size = 0
  #unsyncedBytes = 0

  constructor(config: JournalConfig) {
    this.#config = config
    this.#path = join(config.directory, JOURNAL)
  }

  /** Bytes of journal past its header: what compaction bounds. */
  get bytesSinceSnapshot(): number {
    return this.#size - this.#header.bytes
  }

  #corrupt(what: string, cause?: unknown): StorageError {
    return new StorageError(
      'file',
      `${what}. The store refuses to open so that nothing is silently lost. Restore the directory ${this.#config.directory} from a backup, or open it once with \`repair: true\` to drop the damaged part (a copy of the journal is kept; the open() report lists what was dropped).`,
      { cause, retryable: false },
    )
  }

  #step(step: CompactionStep): void {
    this.#config.faults.compactionStep?.(step)
  }

  /**
   * (Re)builds the state from disk: snapshot plus journal. When the journal is replaced while it is being read (a
   * process that took the lock over from this one compacted meanwhile), reads the new one.
   */
  async load(attempt = 0): Promise<FileStoreRecovery> {
    if (this.#fatal !== null) throw this.#fatal
    const { directory } = this.#config
    this.state = null
    this.closeFile()
    mkdirSync(directory, { recursive: true })
    let fd: number
    try {
      fd = openSync(this.#path, OPEN_FLAGS)
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error
      this.#createJournal()
      fd = openSync(this.#path, OPEN_FLAGS)
    }
    this.#fd = fd
    const stat = fstatSync(fd)
    this.#ino = stat.ino
    const buffer = readRange(fd, 0, stat.size)
    const header = this.#readHeader(buffer)
    this.#header = header
    let state: LedgerState
    try {
      state =
        header.snapshot === null ? ledger.createLedger(header.retention) : this.#loadSnapshot(header.snapshot, header)
    } catch (error) {
      if (attempt < 3 && this.#replaced()) return this.load(attempt + 1)
      throw error
    }
    const outcome = await this.#scan(state, buffer, 0, header.bytes, header.bytes, this.#config.repair)
    this.state = state
    this.needsReload = false
    this.#end = outcome.end
    this.#resume = outcome.resume
    this.#size = buffer.length
    this.stats.generation = header.generation
    this.stats.journalBytes = this.#size
    let tornTailPreservedAs: string | null = null
    if (outcome.tornTail !== null) {
      this.stats.tornTailsTruncated++
      tornTailPreservedAs = join(directory, `journal.torn-${this.#ino}-${outcome.tornTail.offset}.log`)
      if (!existsSync(tornTailPreservedAs)) writeFileSync(tornTailPreservedAs, buffer.subarray(outcome.tornTail.offset))
    }
    let preservedAs: string | null = null
    if (outcome.seals.length > 0) {
      const reloaded = await this.#finishSealed(outcome.seals)
      if (reloaded !== null) return reloaded
    } else if (outcome.dropped.length > 0) {
      preservedAs = join(directory, `journal.corrupt-${Date.now()}.log`)
      copyFileSync(this.#path, preservedAs, constants.COPYFILE_EXCL) // a copy: the compaction appends a seal to the journal
      this.compact()
    } else {
      this.#removeStrays()
    }
    return {
      generation: this.#header.generation,
      framesReplayed: outcome.frames,
      operationsReplayed: outcome.operations,
      truncatedTailBytes: outcome.tornTail?.length ?? 0,
      tornTailPreservedAs,
      droppedRanges: outcome.dropped,
      preservedAs,
    }
  }

  /** Brings the state up to date with what other processes appended (loading it first if needed). */
  async catchUp(): Promise<FileStoreRecovery | null> {
    if (this.#fatal !== null) throw this.#fatal
    if (this.state === null || this.needsReload || this.#fd === null) return this.load()
    let stat
    try {
      stat = statSync(this.#path)
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return this.load()
      throw error
    }
    if (stat.ino !== this.#ino || stat.size < this.#size) return this.load() // another process compacted
    if (stat.size === this.#size) return null
    const from = this.#resume
    const buffer = readRange(this.#fd, from, stat.size)
    let outcome: ScanOutcome
    try {
      outcome = await this.#scan(this.state, buffer, from, from, this.#end, false)
    } catch (error) {
      this.needsReload = true
      if (this.#config.repair) return this.load()
      throw error
    }
    this.stats.framesCaughtUp += outcome.frames
    this.#end = outcome.end
    this.#resume = outcome.resume
    this.#size = from + buffer.length
    this.stats.journalBytes = this.#size
    if (outcome.seals.length > 0) await this.#finishSealed(outcome.seals)
    return null
  }

  /** Whether `journal.log` is no longer the file this process has open. */
  #replaced(): boolean {
    try {
      return statSync(this.#path).ino !== this.#ino
    } catch {
      return true
    }
  }

  async #scan(
    state: LedgerState,
    buffer: Buffer,
    base: number,
    start: number,
    end: number,
    repair: boolean,
  ): Promise<ScanOutcome> {
    let sliceStart = Date.now()
    try {
      return await scanJournal({
        buffer,
        base,
        start,
        end,
        sealed: false,
        repair,
        apply: (operations) => {
          for (const operation of operations) {
            try {
              applyOperation(state, operation as Operation)
            } catch {
              // Operations that failed when first applied are never journaled, so this does not happen; a replay
              // that disagrees must not stop the store from opening.
            }
          }
        },
        pause: () => {
          if (Date.now() - sliceStart <= REPLAY_SLICE_MS) return undefined
          return new Promise<void>((resolve) =>
            setImmediate(() => {
              sliceStart = Date.now()
              resolve()
            }),
          )
        },
      })
    } catch (error) {
      if (error instanceof JournalDamage) throw this.#corrupt(`the journal ${this.#path}: ${error.message}`, error)
      throw error
    }
  }

  #readHeader(buffer: Buffer): Header {
    const frame = readFrame(buffer, 0, MAX_JOURNAL_FRAME_BYTES)
    if (!frame.ok) throw this.#corrupt(`the header of the journal ${this.#path} is damaged (${frame.problem})`)
    let content: { journal?: unknown; generation?: unknown; snapshot?: unknown } & Record<string, unknown>
    try {
      content = JSON.parse(frame.payload.toString('utf8')) as typeof content
    } catch (error) {
      throw this.#corrupt(`the header of the journal ${this.#path} is not JSON`, error)
    }
    const generation = content.generation
    if ((content.journal !== 1 && content.journal !== 2) || typeof generation !== 'number') {
      throw this.#corrupt(`${this.#path} is not an llm-budget journal of version 1 or 2`)
    }
    const retention = retentionOfHeader(content)
    const mismatch = retentionMismatch(this.#config.retention, retention, this.#config.directory)
    if (mismatch !== null) {
      this.#fatal = mismatch
      throw mismatch
    }
    // Version 1 named its snapshot by generation only.
    const snapshot =
      content.journal === 1
        ? generation > 0
          ? `snapshot-${generation}.json`
          : null
        : typeof content.snapshot === 'string'
          ? content.snapshot
          : null
    return { generation, retention, snapshot, bytes: frame.end }
  }

  #loadSnapshot(name: string, header: Header): LedgerState {
    const file = join(this.#config.directory, name)
    let snapshotFd: number
    try {
      snapshotFd = openSync(file, 'r')
    } catch (error) {
      throw this.#corrupt(`the journal names the snapshot ${file}, which cannot be opened (${errorCode(error)})`, error)
    }
    let buffer: Buffer
    try {
      buffer = readRange(snapshotFd, 0, fstatSync(snapshotFd).size)
    } finally {
      closeSync(snapshotFd)
    }
    const frame = readFrame(buffer, 0, MAX_SNAPSHOT_FRAME_BYTES)
    if (!frame.ok || frame.end !== buffer.length)
      throw this.#corrupt(`the snapshot ${file} is damaged (${frame.ok ? 'trailing bytes' : frame.problem})`)
    try {
      const content = JSON.parse(frame.payload.toString('utf8')) as { generation: number; ledger: JsonValue }
      if (content.generation !== header.generation) throw new Error(`snapshot of generation ${content.generation}`)
      return ledger.restoreLedger(content.ledger, header.retention)
    } catch (error) {
      throw this.#corrupt(`the snapshot ${file} cannot be read (${String(error)})`, error)
    }
  }

  /** Creates a fresh journal (generation 0) when the directory has none; a process that creates it first wins. */
  #createJournal(): void {
    const { directory } = this.#config
    if (readdirSync(directory).some((name) => /^snapshot-\d+(-[0-9a-f]+)?\.json$/.test(name))) {
      throw this.#corrupt(`${directory} has snapshots but no ${JOURNAL}`)
    }
    const temporary = join(directory, `journal.tmp-${token()}`)
    const retention = retentionOfNewStore(this.#config.retention, this.#config.defaultMaxRecords)
    writeDurably(temporary, headerFrame(0, retention, null))
    try {
      linkSync(temporary, this.#path) // never replaces a journal another process created meanwhile
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error
    } finally {
      unlinkQuietly(temporary)
    }
    fsyncDirectory(directory)
  }

  /**
   * Removes temporary files and snapshots the journal does not name (left by interrupted compactions). Snapshots of
   * a later generation than this journal's are only removed while the lock is verified to be this process's: a
   * process that lost the lock may be reading a journal another process has since replaced.
   */
  #removeStrays(): void {
    const { directory } = this.#config
    let holdsLock: boolean | undefined
    for (const name of readdirSync(directory)) {
      const snapshot = /^snapshot-(\d+)(-[0-9a-f]+)?\.json(\.tmp)?$/.exec(name)
      let stray = name === 'journal.tmp' || name.startsWith('journal.tmp-')
      if (snapshot !== null && name !== this.#header.snapshot) {
        stray = Number(snapshot[1]) <= this.#header.generation || (holdsLock ??= this.#config.lock.verify())
      }
      if (stray) unlinkQuietly(join(directory, name))
    }
    removeDeadLockFiles(directory)
  }

  /**
   * A journal sealed by a compaction that did not finish (its process died, was frozen, or failed before renaming
   * the new journal into place): fence that compaction by removing its new journal, then finish it here. Returns
   * the report of a reload when the compactor renamed its journal in time after all.
   */
  async #finishSealed(seals: Seal[]): Promise<FileStoreRecovery | null> {
    for (const seal of seals) unlinkQuietly(join(this.#config.directory, seal.journal))
    if (this.#replaced()) return this.load()
    this.compact()
    this.#removeStrays() // the unfinished compaction's snapshot
    return null
  }

  /** Appends one group commit of journal lines; resolves once it may be acknowledged. */
  async append(lines: string[]): Promise<void> {
    const fd = this.#fd as number
    const at = this.#size
    const frame = encodeFrame(`{"after":${this.#end},"at":${at},"ops":[${lines.join(',')}]}`)
    const { faults, durability } = this.#config
    try {
      const partial = faults.beforeWrite?.(frame.length)
      if (typeof partial === 'number') {
        await append(fd, frame.subarray(0, partial))
        throw ioError('ENOSPC', 'no space left on device (injected)')
      }
      await append(fd, frame)
      faults.afterWrite?.()
      if (durability === 'fsync') {
        faults.beforeSync?.()
        await datasync(fd)
      } else {
        this.#unsyncedBytes += frame.length
      }
    } catch (error) {
      this.needsReload = true // the in-memory state has this frame's operations applied; rebuild it from disk
      const rolledBack = this.#rollBack(fd, at, frame.length)
      throw new StorageError(
        'file',
        `cannot append to the journal ${this.#path} (${errorCode(error)}); ${
          rolledBack
            ? `nothing was written (rolled back to byte ${at})`
            : 'it could not be rolled back, so the operations may or may not be recorded'
        }. The ${lines.length} operation(s) were not acknowledged; retrying with the same call ids is safe.`,
        { cause: error, retryable: true },
      )
    }
    this.#fence(fd, at, frame, lines.length)
    this.#end = at + frame.length
    this.#size = this.#end
    this.#resume = this.#end
    this.stats.framesWritten++
    this.stats.operationsWritten += lines.length
    this.stats.journalBytes = this.#size
  }

  /** Throws unless the frame landed where it was expected and the lock is still this process's. */
  #fence(fd: number, at: number, frame: Buffer, operations: number): void {
    const landed = readRange(fd, at, at + frame.length).equals(frame)
    const lockHeld = this.#config.lock.verify()
    if (landed && lockHeld) return
    this.needsReload = true
    this.stats.fencedWrites++
    if (lockHeld) {
      throw new FencedWrite(
        `a process that had lost the lock of ${this.#config.directory} wrote next to this one; the ${operations} operation(s) were not recorded`,
        true,
      )
    }
    throw new FencedWrite(
      `this process lost the lock of ${this.#config.directory} while writing (it was stopped or stalled for longer than \`staleLockMs\`, and another process took the lock over), so the ${operations} operation(s) were not acknowledged: ${
        landed ? 'they may or may not be recorded' : 'they were not recorded'
      }. Retrying with the same call ids is safe; raise \`staleLockMs\` if this process is often paused that long.`,
      false,
    )
  }

  /** Truncates a failed append away, only while nobody else can have written after it. */
  #rollBack(fd: number, at: number, length: number): boolean {
    try {
      if (!this.#config.lock.verify() || fstatSync(fd).size > at + length) return false
      ftruncateSync(fd, at)
      fdatasyncSync(fd)
      return true
    } catch {
      return false
    }
  }

  /** Appends a seal naming the new journal's temporary file, synchronously; throws if it was fenced. */
  #seal(journal: string): void {
    const fd = this.#fd as number
    const at = this.#size
    const frame = encodeFrame(JSON.stringify({ after: this.#end, at, seal: { journal } satisfies Seal }))
    let done = 0
    while (done < frame.length) done += writeSync(fd, frame, done, frame.length - done)
    fdatasyncSync(fd)
    this.#fence(fd, at, frame, 0)
    this.#end = at + frame.length
    this.#size = this.#end
    this.#resume = this.#end
  }

  /** Writes a snapshot and swaps in a fresh journal naming it. Synchronous, with the state caught up. */
  compact(): void {
    const state = this.state
    if (state === null || this.#fd === null) return
    const { directory, lock } = this.#config
    const next = this.#header.generation + 1
    const id = token()
    const snapshot = `snapshot-${next}-${id}.json`
    const snapshotPath = join(directory, snapshot)
    const journalTemporary = `journal.tmp-${id}`
    let sealedHere = false
    let switched = false
    try {
      const snapshotFrame = encodeFrame(JSON.stringify({ generation: next, ledger: ledger.snapshotLedger(state) }))
      writeDurably(
        `${snapshotPath}.tmp`,
        snapshotFrame,
        () => this.#step('snapshot-written'),
        () => this.#step('snapshot-synced'),
      )
      renameSync(`${snapshotPath}.tmp`, snapshotPath)
      this.#step('snapshot-renamed')
      fsyncDirectory(directory)
      this.#step('directory-synced')
      const header = headerFrame(next, this.#header.retention, snapshot)
      writeDurably(join(directory, journalTemporary), header)
      this.#step('journal-written')
      this.#seal(journalTemporary)
      sealedHere = true
      this.#step('journal-sealed')
      if (!lock.verify())
        throw new StorageError(
          'file',
          `this process lost the lock of ${directory} during a compaction; the compaction was abandoned`,
        )
      renameSync(join(directory, journalTemporary), this.#path)
      switched = true // the commit point: from here the new generation is the store
      this.#step('journal-renamed')
      fsyncDirectory(directory)
      this.#step('journal-directory-synced')
      const previous = this.#header.snapshot
      this.closeFile()
      this.#fd = openSync(this.#path, OPEN_FLAGS)
      this.#ino = fstatSync(this.#fd).ino
      this.#header = { generation: next, retention: this.#header.retention, snapshot, bytes: header.length }
      this.#end = header.length
      this.#resume = header.length
      this.#size = header.length
      if (previous !== null) unlinkQuietly(join(directory, previous))
      this.#step('done')
    } catch (error) {
      if (switched || sealedHere) {
        // Switched: our descriptor may point at the old journal. Sealed: the journal is closed until a catch-up
        // finishes this compaction. Either way, reload from disk.
        this.needsReload = true
      }
      if (!switched) {
        unlinkQuietly(`${snapshotPath}.tmp`)
        unlinkQuietly(snapshotPath)
        unlinkQuietly(join(directory, journalTemporary))
      }
      throw error
    }
    this.stats.compactions++
    this.stats.generation = next
    this.stats.journalBytes = this.#size
  }

  /** Syncs the journal if a batch-mode write is not yet durable (called by the batch-mode timer). */
  syncInBackground(): void {
    const fd = this.#fd
    if (fd === null || this.#unsyncedBytes === 0) return
    const pending = this.#unsyncedBytes
    this.#unsyncedBytes = 0
    datasync(fd).catch((error: unknown) => {
      if (this.#fd !== fd) return // closed meanwhile; closing synced it
      this.#unsyncedBytes += pending
      this.syncError = error
    })
  }

  /** Reports (and clears) a failed background sync, after trying once more. */
  async checkSync(): Promise<void> {
    if (this.syncError === null || this.#fd === null) return
    try {
      await datasync(this.#fd)
      this.syncError = null
    } catch (error) {
      throw new StorageError(
        'file',
        `cannot sync the journal ${this.#path} (${errorCode(error)}); operations acknowledged in the last \`syncIntervalMs\` may be lost`,
        { cause: error },
      )
    }
  }

  /** Closes the journal file, syncing it first in batch mode. */
  closeFile(): void {
    if (this.#fd === null) return
    try {
      // In batch mode a timer sync may be in flight on this descriptor; sync here regardless of the counter.
      if (this.#unsyncedBytes > 0 || this.#config.durability === 'batch') fdatasyncSync(this.#fd)
      this.#unsyncedBytes = 0
    } catch (error) {
      this.syncError = error
    }
    closeSync(this.#fd)
    this.#fd = null
  }
}
