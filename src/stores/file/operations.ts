/**
 * The operations of the file store's journal: their codes on disk, how a validated request becomes a journal line,
 * and how a line is applied to the ledger (the same pure functions as the memory store, so a replay rebuilds the
 * same state).
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import * as ledger from '../ledger/ledger.js'
import type { LedgerState } from '../ledger/ledger.js'
import type { CommitRequest, PutBudgetRequest, ReleaseRequest, ReserveRequest, ResetRequest } from '../types.js'

/** The code each state-changing operation has in the journal (one character: the journal is mostly these lines). */
export const OperationCode = {
  reserve: 'r',
  commit: 'c',
  release: 'l',
  reset: 'z',
  putBudget: 'b',
} as const

/** The name of a state-changing operation. */
export type OperationName = keyof typeof OperationCode

/** One journaled operation: its code and its request. */
export type Operation =
  | { o: typeof OperationCode.reserve; q: ReserveRequest }
  | { o: typeof OperationCode.commit; q: CommitRequest }
  | { o: typeof OperationCode.release; q: ReleaseRequest }
  | { o: typeof OperationCode.reset; q: ResetRequest }
  | { o: typeof OperationCode.putBudget; q: PutBudgetRequest }

/** Applies one operation to the ledger and returns the ledger's answer. */
export function applyOperation(state: LedgerState, operation: Operation): unknown {
  switch (operation.o) {
    case OperationCode.reserve:
      return ledger.reserve(state, operation.q)
    case OperationCode.commit:
      return ledger.commit(state, operation.q)
    case OperationCode.release:
      return ledger.release(state, operation.q)
    case OperationCode.reset:
      return ledger.reset(state, operation.q)
    case OperationCode.putBudget:
      return structuredClone(ledger.putBudget(state, operation.q))
    default:
      throw new Error(`unknown journal operation ${JSON.stringify((operation as { o?: unknown }).o)}`)
  }
}

/** A request ready for the journal: its line, and the operation exactly as a replay of that line will see it. */
export interface EncodedOperation {
  line: string
  operation: Operation
}

/**
 * The journal line of a validated request, and the operation exactly as a replay of that line will see it (not the
 * caller's object, which may have extra or undefined fields, or change before the batch runs). Requests of fixed
 * shape are copied field by field and the copy is serialised (safe integers, finite numbers and strings survive
 * JSON unchanged); free-form spend records and budget definitions are serialised once and parsed back.
 * Throws when the request cannot be represented as JSON.
 */
export function encodeOperation(name: OperationName, request: unknown): EncodedOperation {
  switch (name) {
    case 'reserve': {
      const q = request as ReserveRequest
      const entries = q.entries.map((e) => ({ key: e.key, amount: e.amount, limit: e.limit, expiresAt: e.expiresAt }))
      const copy: ReserveRequest = { callId: q.callId, now: q.now, holdExpiresAt: q.holdExpiresAt, entries }
      return { line: `{"o":"r","q":${JSON.stringify(copy)}}`, operation: { o: OperationCode.reserve, q: copy } }
    }
    case 'commit': {
      const q = request as CommitRequest
      const entries = q.entries.map((e) => ({ key: e.key, amount: e.amount, expiresAt: e.expiresAt }))
      const copy: CommitRequest = { callId: q.callId, now: q.now, entries, dedupeUntil: q.dedupeUntil }
      const head = JSON.stringify(copy)
      if (q.record === undefined)
        return { line: `{"o":"c","q":${head}}`, operation: { o: OperationCode.commit, q: copy } }
      const record = JSON.stringify(q.record)
      copy.record = JSON.parse(record) as NonNullable<CommitRequest['record']>
      return {
        line: `{"o":"c","q":${head.slice(0, -1)},"record":${record}}}`,
        operation: { o: OperationCode.commit, q: copy },
      }
    }
    case 'release': {
      const q = request as ReleaseRequest
      // The tombstone of an unknown call id lasts until `holdExpiresAt`: journaled, so a replay keeps it as long.
      const copy: ReleaseRequest =
        q.holdExpiresAt === undefined
          ? { callId: q.callId, now: q.now }
          : { callId: q.callId, now: q.now, holdExpiresAt: q.holdExpiresAt }
      return { line: `{"o":"l","q":${JSON.stringify(copy)}}`, operation: { o: OperationCode.release, q: copy } }
    }
    case 'reset': {
      const q = request as ResetRequest
      const copy: ResetRequest = { keys: [...q.keys], now: q.now }
      return { line: `{"o":"z","q":${JSON.stringify(copy)}}`, operation: { o: OperationCode.reset, q: copy } }
    }
    case 'putBudget': {
      const line = `{"o":"b","q":${JSON.stringify(request)}}`
      return { line, operation: JSON.parse(line) as Operation }
    }
  }
}
