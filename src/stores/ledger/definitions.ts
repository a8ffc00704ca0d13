/**
 * Budget definitions and their audit history in the ledger. Equal JSON objects are kept once (interned).
 *
 * @internal Used by the ledger.
 * @packageDocumentation
 */
import type { HistoryEntry, JsonValue, PutBudgetRequest, PutBudgetResult, StoredBudget } from '../types.js'
import { flatString } from './keys.js'
import type { BudgetSlot, LedgerState } from './state.js'
import { validatePutBudget, validateScope } from './validation.js'

/** Most distinct JSON objects a ledger shares between stored definitions and history entries (then it starts over). */
export const INTERN_MAX = 1024
/** Longest JSON text of an object that is shared rather than kept per budget. */
const INTERN_MAX_TEXT = 2048

/** Write or delete a budget definition and append its history entry. */
export function putBudget(state: LedgerState, request: PutBudgetRequest): PutBudgetResult {
  validatePutBudget(request)
  const current = state.budgets.get(request.scope)
  if (request.ifRevision !== undefined && (current?.revision ?? 0) !== request.ifRevision) {
    return { ok: false, conflict: true, current: current === undefined ? null : storedBudget(current) }
  }
  // One flat copy of the scope string, shared by the maps and the objects below.
  const scope = current?.scope ?? flatString(request.scope)
  let next: BudgetSlot | undefined
  if (request.definition === null) {
    if (current !== undefined) {
      // The history stays (in the map of scopes without a budget).
      state.budgets.delete(scope)
      const list = historyOfSlot(current)
      if (list.length > 0) state.history.set(scope, list.length === 1 ? list[0]! : list)
    }
  } else if (current !== undefined) {
    next = {
      scope,
      definition: internFields(state, request.definition),
      revision: current.revision + 1,
      createdAt: current.createdAt,
      updatedAt: Object.is(request.now, current.createdAt) ? null : request.now,
      created: current.created,
      history: current.history,
    }
    state.budgets.set(scope, next)
  } else {
    // A scope whose budget was deleted before takes its history back.
    const earlier = state.history.get(scope) ?? null
    if (earlier !== null) state.history.delete(scope)
    next = {
      scope,
      definition: internFields(state, request.definition),
      revision: 1,
      createdAt: request.now,
      updatedAt: null,
      created: undefined,
      history: earlier,
    }
    state.budgets.set(scope, next)
  }
  addHistory(state, compactHistory(state, scope, request.history))
  return { ok: true, budget: next === undefined ? null : storedBudget(next) }
}

/** The stored budget of a slot, as a new plain object (the fields of `StoredBudget`, in its order). */
function storedBudget(slot: BudgetSlot): StoredBudget {
  return {
    scope: slot.scope,
    definition: slot.definition,
    revision: slot.revision,
    createdAt: slot.createdAt,
    updatedAt: slot.updatedAt ?? slot.createdAt,
  }
}

/** A slot of a budget read from a snapshot (its history is added after). */
export function budgetSlot(budget: StoredBudget): BudgetSlot {
  return {
    scope: budget.scope,
    definition: budget.definition,
    revision: budget.revision,
    createdAt: budget.createdAt,
    updatedAt: Object.is(budget.updatedAt, budget.createdAt) ? null : budget.updatedAt,
    created: undefined,
    history: null,
  }
}

/** Whether `entry` is the plain creation of the budget in `slot`, as its first history entry (see `BudgetSlot`). */
function isPlainCreate(slot: BudgetSlot, entry: HistoryEntry): boolean {
  if (slot.created !== undefined || slot.history !== null) return false
  if (entry.action !== 'create' || entry.old !== null || entry.reason !== null || entry.new === undefined) return false
  if (entry.scope !== slot.scope || !Object.is(entry.at, slot.createdAt)) return false
  const keys = Object.keys(entry)
  return (
    keys.length === 6 &&
    keys[0] === 'scope' &&
    keys[1] === 'action' &&
    keys[2] === 'at' &&
    keys[3] === 'old' &&
    keys[4] === 'new' &&
    keys[5] === 'reason'
  )
}

/** Appends a history entry of its scope: to its budget's slot, or to the map of scopes without a budget. */
export function addHistory(state: LedgerState, entry: HistoryEntry): void {
  const slot = state.budgets.get(entry.scope)
  if (slot !== undefined) {
    if (isPlainCreate(slot, entry)) slot.created = entry.new
    else slot.history = appended(slot.history, entry)
    return
  }
  state.history.set(entry.scope, appended(state.history.get(entry.scope) ?? null, entry))
}

function appended(list: HistoryEntry | HistoryEntry[] | null, entry: HistoryEntry): HistoryEntry | HistoryEntry[] {
  if (list === null) return entry
  if (Array.isArray(list)) {
    list.push(entry)
    return list
  }
  return [list, entry]
}

/** The history kept in a slot, oldest first, as a new list (the plain creation rebuilt as an entry). */
function historyOfSlot(slot: BudgetSlot): HistoryEntry[] {
  const out: HistoryEntry[] = []
  if (slot.created !== undefined) {
    out.push({ scope: slot.scope, action: 'create', at: slot.createdAt, old: null, new: slot.created, reason: null })
  }
  const list = slot.history
  if (Array.isArray(list)) out.push(...list)
  else if (list !== null) out.push(list)
  return out
}

function historyOf(state: LedgerState, scope: string): HistoryEntry[] {
  const slot = state.budgets.get(scope)
  if (slot !== undefined) return historyOfSlot(slot)
  const list = state.history.get(scope)
  return list === undefined ? [] : Array.isArray(list) ? [...list] : [list]
}

/** Every history entry, scope by scope (the scopes with a budget first, in the order of the budgets). */
export function allHistory(state: LedgerState): HistoryEntry[] {
  const out: HistoryEntry[] = []
  for (const slot of state.budgets.values()) out.push(...historyOfSlot(slot))
  for (const list of state.history.values()) {
    if (Array.isArray(list)) out.push(...list)
    else out.push(list)
  }
  return out
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
  const slot = state.budgets.get(validateScope(scope))
  return slot === undefined ? null : storedBudget(slot)
}

/** Every stored budget definition. */
export function listBudgets(state: LedgerState): StoredBudget[] {
  return Array.from(state.budgets.values(), storedBudget)
}

/** Audit history of one scope, oldest first. */
export function getHistory(state: LedgerState, scope: string): HistoryEntry[] {
  return historyOf(state, validateScope(scope))
}
