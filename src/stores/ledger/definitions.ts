/**
 * Budget definitions and their audit history in the ledger. Equal JSON objects are kept once (interned).
 *
 * @internal Used by the ledger.
 * @packageDocumentation
 */
import type { HistoryEntry, JsonValue, PutBudgetRequest, PutBudgetResult, StoredBudget } from '../types.js'
import { flatString } from './keys.js'
import type { LedgerState } from './state.js'
import { validatePutBudget, validateScope } from './validation.js'

/** Most distinct JSON objects a ledger shares between stored definitions and history entries (then it starts over). */
export const INTERN_MAX = 1024
/** Longest JSON text of an object that is shared rather than kept per budget. */
const INTERN_MAX_TEXT = 2048

/** Write or delete a budget definition and append its history entry. */
export function putBudget(state: LedgerState, request: PutBudgetRequest): PutBudgetResult {
  validatePutBudget(request)
  const current = state.budgets.get(request.scope) ?? null
  if (request.ifRevision !== undefined && (current?.revision ?? 0) !== request.ifRevision) {
    return { ok: false, conflict: true, current }
  }
  // One flat copy of the scope string, shared by the maps and the objects below.
  const scope = current?.scope ?? flatString(request.scope)
  let next: StoredBudget | null = null
  if (request.definition === null) {
    state.budgets.delete(scope)
  } else {
    next = {
      scope,
      definition: internFields(state, request.definition),
      revision: (current?.revision ?? 0) + 1,
      createdAt: current?.createdAt ?? request.now,
      updatedAt: request.now,
    }
    state.budgets.set(scope, next)
  }
  addHistory(state, compactHistory(state, scope, request.history))
  return { ok: true, budget: next }
}

/** Appends a history entry of its scope. */
export function addHistory(state: LedgerState, entry: HistoryEntry): void {
  const list = state.history.get(entry.scope)
  if (list === undefined) state.history.set(entry.scope, entry)
  else if (Array.isArray(list)) list.push(entry)
  else state.history.set(entry.scope, [list, entry])
}

function historyOf(state: LedgerState, scope: string): HistoryEntry[] {
  const list = state.history.get(scope)
  return list === undefined ? [] : Array.isArray(list) ? [...list] : [list]
}

/**
 * The JSON text of a value when it reads back as the same value, else `undefined` (`-0`, non-finite numbers,
 * `undefined` fields, anything JSON would change).
 */
function exactJson(value: object): string | undefined {
  let exact = true
  const text = JSON.stringify(value, function (this: unknown, key: string, item: unknown) {
    const raw = (this as Record<string, unknown>)[key]
    if (typeof raw === 'number') {
      if (!Number.isFinite(raw) || Object.is(raw, -0)) exact = false
    } else if (typeof raw === 'object' && raw !== null) {
      if (!Array.isArray(raw)) {
        const proto: unknown = Object.getPrototypeOf(raw)
        if (
          (proto !== Object.prototype && proto !== null) ||
          typeof (raw as { toJSON?: unknown }).toJSON === 'function'
        )
          exact = false
      }
    } else if (raw !== null && typeof raw !== 'string' && typeof raw !== 'boolean') {
      exact = false
    }
    return item
  })
  return exact && text !== undefined && text.length <= INTERN_MAX_TEXT ? text : undefined
}

/** The shared copy of a JSON object equal to `value` (or `value` itself, now shared). Not for primitives. */
function intern(state: LedgerState, value: JsonValue): JsonValue {
  if (typeof value !== 'object' || value === null) return value
  const text = exactJson(value)
  if (text === undefined) return value
  const shared = state.interned.get(text)
  if (shared !== undefined) return shared
  if (state.interned.size >= INTERN_MAX) state.interned.clear()
  state.interned.set(text, value)
  return value
}

/** `value` with each object-valued field replaced by its shared copy (the object itself is kept). */
function internFields(state: LedgerState, value: JsonValue): JsonValue {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return intern(state, value)
  for (const key of Object.keys(value)) {
    const item = value[key]
    if (typeof item === 'object' && item !== null) {
      Object.defineProperty(value, key, {
        value: intern(state, item),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
  }
  return value
}

/** The history entry as one compact object (fixed shape, shared scope string and shared `old`/`new` objects). */
function compactHistory(state: LedgerState, scope: string, entry: HistoryEntry): HistoryEntry {
  const keys = Object.keys(entry)
  if (
    keys.length !== 6 ||
    keys[0] !== 'scope' ||
    keys[1] !== 'action' ||
    keys[2] !== 'at' ||
    keys[3] !== 'old' ||
    keys[4] !== 'new' ||
    keys[5] !== 'reason'
  ) {
    return entry
  }
  return {
    scope,
    action: entry.action,
    at: entry.at,
    old: intern(state, entry.old),
    new: intern(state, entry.new),
    reason: entry.reason,
  }
}

/** Read one budget definition. */
export function getBudget(state: LedgerState, scope: string): StoredBudget | null {
  return state.budgets.get(validateScope(scope)) ?? null
}

/** Every stored budget definition. */
export function listBudgets(state: LedgerState): StoredBudget[] {
  return [...state.budgets.values()]
}

/** Audit history of one scope, oldest first. */
export function getHistory(state: LedgerState, scope: string): HistoryEntry[] {
  return historyOf(state, validateScope(scope))
}
