/**
 * The file store, wired from its parts: the options, the cross-process lock, the journal and the group-commit
 * queue. `fileStore()` in `../file.ts` is this without fault injection.
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import * as ledger from '../ledger/ledger.js'
import type { LedgerState } from '../ledger/ledger.js'
import { InvalidInputError, StorageError } from '../../errors.js'
import type { BalancesRequest, CommitResult, PutBudgetResult, ReleaseResult, ReserveResult } from '../types.js'
import type { FileStore } from '../file.js'
import type { FileStoreFaults } from './faults.js'
import { errorCode } from './io.js'
import { FencedWrite, Journal } from './journal.js'
import { FileLock } from './lock.js'
import { applyOperation, encodeOperation } from './operations.js'
import type { EncodedOperation, OperationName } from './operations.js'
import { parseFileStoreOptions } from './options.js'
import { GroupCommitQueue } from './queue.js'
import type { Pending } from './queue.js'
import type { FileStoreRecovery } from './types.js'

/** A frame is closed once its payload passes this many characters; the rest of the queue goes in the next one. */
const FRAME_SOFT_LIMIT = 8 * 1024 * 1024
/** Times a batch is run when a process that lost the lock keeps pushing its frame aside. */
const MAX_ATTEMPTS = 4

/** `fileStore(options)` with fault injection, for the store's own tests. */
export function createFileStore(options: unknown, faults: FileStoreFaults = {}): FileStore {
  const settings = parseFileStoreOptions(options)
  const directory = resolvePath(settings.path)
  const lock = new FileLock(directory, {
    staleMs: settings.staleLockMs,
    timeoutMs: settings.lockTimeoutMs,
    onAcquired: () => faults.lockAcquired?.(),
  })
  const journal = new Journal({
    directory,
    durability: settings.durability,
    retention: settings.retention,
    defaultMaxRecords: settings.defaultMaxRecords,
    repair: settings.repair,
    lock,
    faults,
  })
  let recovery: FileStoreRecovery | null = null
  let directoryReady = false
  let compactionRetryAt = 0

  /**
   * Answers the batch's reads and applies its operations to the state; returns the journal lines to write and the
   * requests left for the next batch.
   */
  const applyBatch = (batch: Pending[], settled: Pending[]): { lines: string[]; compact: boolean; rest: Pending[] } => {
    const state = journal.state as LedgerState
    const lines: string[] = []
    let characters = 0
    let compact = false
    let rest: Pending[] = []
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!
      settled.push(p)
      if (p.operation === undefined) {
        if (p.compact === true) compact = true
        try {
          p.outcome = { ok: true, value: p.read?.(state) }
        } catch (error) {
          p.outcome = { ok: false, error }
        }
        continue
      }
      try {
        p.outcome = { ok: true, value: applyOperation(state, p.operation) }
      } catch (error) {
        // Refused by the ledger after it may have swept expired entries: answer it, write the operations before it,
        // rebuild the state from disk, and run the rest in the next batch.
        p.outcome = { ok: false, error }
        journal.needsReload = true
        rest = batch.slice(i + 1)
        break
      }
      lines.push(p.line as string)
      characters += (p.line as string).length
      if (characters > FRAME_SOFT_LIMIT) {
        rest = batch.slice(i + 1)
        break
      }
    }
    return { lines, compact, rest }
  }

  const maybeCompact = async (requested: boolean): Promise<void> => {
    const due = journal.bytesSinceSnapshot > Math.max(settings.compactBytes, compactionRetryAt) && !journal.needsReload
    if (!requested && !due) return
    if (journal.needsReload) await journal.catchUp()
    try {
      journal.compact()
      compactionRetryAt = 0
    } catch (error) {
      // Do not retry on every batch (a full disk would make each batch write a snapshot): wait for the journal to
      // grow by another quarter of `compactBytes`.
      compactionRetryAt = journal.bytesSinceSnapshot + Math.max(settings.compactBytes / 4, 1024 * 1024)
      if (requested)
        throw new StorageError('file', `compaction failed (${errorCode(error)}); the journal is unchanged`, {
          cause: error,
        })
    }
  }

  const runBatch = async (batch: Pending[], requeue: (rest: Pending[]) => void): Promise<void> => {
    try {
      if (!directoryReady) {
        mkdirSync(directory, { recursive: true })
        directoryReady = true
      }
      await lock.acquire()
    } catch (error) {
      for (const p of batch)
        p.reject(
          error instanceof StorageError
            ? error
            : new StorageError('file', `cannot create ${directory}: ${String(error)}`, { cause: error }),
        )
      return
    }
    const settled: Pending[] = []
    const requeued = new Set<Pending>()
    let failure: unknown = null
    try {
      for (let attempt = 1; ; attempt++) {
        settled.length = 0
        requeued.clear()
        for (const p of batch) delete p.outcome
        try {
          const report = await journal.catchUp()
          recovery ??= report
          await journal.checkSync()
          const { lines, compact, rest } = applyBatch(batch, settled)
          for (const p of rest) requeued.add(p)
          if (lines.length > 0) await journal.append(lines)
          await maybeCompact(compact)
          break
        } catch (error) {
          // Pushed aside by a process that had lost the lock while this one still holds it: nothing was recorded,
          // so run the batch again on the reloaded state.
          if (error instanceof FencedWrite && error.lockHeld && attempt < MAX_ATTEMPTS) continue
          failure = error
          break
        }
      }
    } finally {
      lock.release()
      journal.stats.staleLocksBroken = lock.brokenStaleLocks
      if (requeued.size > 0) requeue([...requeued])
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

  const queue = new GroupCommitQueue(runBatch, settings.maxBatchOperations)

  /** Journals a validated, state-changing request. */
  const mutate = <T>(name: OperationName, request: unknown, validate: () => void): Promise<T> => {
    try {
      validate()
    } catch (error) {
      return Promise.reject(error)
    }
    let encoded: EncodedOperation
    try {
      encoded = encodeOperation(name, request)
    } catch (error) {
      return Promise.reject(
        new InvalidInputError('request', `the request cannot be stored as JSON: ${String(error)}`, { cause: error }),
      )
    }
    return queue.enqueue<T>(encoded)
  }

  const read = <T>(reader: (state: LedgerState) => T, validate?: () => void): Promise<T> => {
    try {
      validate?.()
    } catch (error) {
      return Promise.reject(error)
    }
    return queue.enqueue<T>({ read: reader })
  }

  let syncTimer: ReturnType<typeof setInterval> | null = null
  if (settings.durability === 'batch') {
    syncTimer = setInterval(() => journal.syncInBackground(), settings.syncIntervalMs)
    syncTimer.unref()
  }
  let closed = false

  return {
    name: 'file',
    path: directory,
    reserve: (request) => mutate<ReserveResult>('reserve', request, () => ledger.validateReserve(request)),
    commit: (request) => mutate<CommitResult>('commit', request, () => ledger.validateCommit(request)),
    release: (request) => mutate<ReleaseResult>('release', request, () => ledger.validateRelease(request)),
    reset: (request) => mutate<undefined>('reset', request, () => ledger.validateKeys(request)),
    putBudget: (request) => mutate<PutBudgetResult>('putBudget', request, () => ledger.validatePutBudget(request)),
    balances: (request: BalancesRequest) =>
      read(
        (s) => ledger.peekBalances(s, request),
        () => ledger.validateKeys(request),
      ),
    getBudget: (scope) =>
      read(
        (s) => structuredClone(ledger.getBudget(s, scope)),
        () => ledger.validateScope(scope),
      ),
    listBudgets: () => read((s) => structuredClone(ledger.listBudgets(s))),
    getHistory: (scope) =>
      read(
        (s) => structuredClone(ledger.getHistory(s, scope)),
        () => ledger.validateScope(scope),
      ),
    queryRecords: (query) => read((s) => structuredClone(ledger.queryRecords(s, query))),
    queryRollups: (query) => read((s) => ledger.queryRollups(s, query)),
    async open() {
      await read(() => undefined)
      return structuredClone(recovery as FileStoreRecovery)
    },
    async compact() {
      await queue.enqueue<undefined>({ read: () => undefined, compact: true })
    },
    stats: () => ({ ...journal.stats, staleLocksBroken: lock.brokenStaleLocks }),
    async close() {
      if (closed) return
      closed = true
      await queue.close()
      if (syncTimer !== null) clearInterval(syncTimer)
      journal.closeFile()
      if (journal.syncError !== null) {
        const error = journal.syncError
        journal.syncError = null
        throw new StorageError('file', `the last sync of the journal in ${directory} failed (${errorCode(error)})`, {
          cause: error,
        })
      }
    },
  }
}
