/**
 * The store interface: atomic integer bookkeeping on ledger keys.
 *
 * A store knows nothing about prices, scopes, windows or policy. The {@link BudgetManager} turns a call into
 * ledger entries (one per budget, window and unit that the call counts against) and asks the store to
 * reserve, commit or release them. Every operation is atomic (all entries or none) and idempotent by call id,
 * so a retried request never counts twice. Amounts are non-negative safe integers: nano-USD (1e-9 USD) for
 * money, whole tokens or requests for rate limits.
 *
 * Stores receive the current time (`now`) and absolute expiry instants from the manager and never read the
 * clock themselves, except a store whose server clock is the authority (Redis), which exposes it as
 * {@link BudgetStore.clock}.
 *
 * @packageDocumentation
 */

/** A JSON value, as stores persist it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** The balance of one ledger key. */
export interface Balance {
  /** Committed amount. */
  spent: number
  /** Sum of live (unexpired) holds. */
  reserved: number
}

/** One ledger key touched by a reservation. */
export interface ReserveEntry {
  /**
   * Ledger key, built by the manager from scope, window and unit (for example
   * `user:alice|d:2026-11-29|usd`). Opaque to the store: 1 to 512 characters.
   */
  key: string
  /** Amount to hold: a non-negative safe integer. */
  amount: number
  /**
   * Admission limit: the reservation succeeds only if `spent + reserved + amount <= limit` for every entry
   * with a limit. `null` tracks the key without limiting it.
   */
  limit: number | null
  /**
   * Epoch milliseconds after which the key and its balances may be forgotten (the end of its window plus a
   * grace period). `null` keeps the key until it is reset.
   */
  expiresAt: number | null
}

/** Reserve worst-case amounts on several keys at once, all or nothing. */
export interface ReserveRequest {
  /** Unique id of the call; the same id makes a retried reservation a no-op. 1 to 200 characters. */
  callId: string
  /** The manager's current time, epoch milliseconds. */
  now: number
  /** When the holds stop counting if neither committed nor released (the caller died). */
  holdExpiresAt: number
  /** Keys to reserve on. At least one; no key twice. */
  entries: ReserveEntry[]
}

/** The answer to a {@link ReserveRequest}. `balances` are in the order of the request's entries. */
export type ReserveResult =
  | {
      ok: true
      /** True when this call id already had its holds (or had finished): nothing was changed. */
      duplicate: boolean
      /** Balances after the reservation. */
      balances: Balance[]
    }
  | {
      ok: false
      /** Index of the first entry whose limit refused the reservation. Nothing was changed. */
      refusedIndex: number
      /** Balances as they are (before this request). */
      balances: Balance[]
    }

/** One ledger key touched by a commit. */
export interface CommitEntry {
  /** Ledger key, as in {@link ReserveEntry.key}. */
  key: string
  /** Actual amount to add to `spent` (a non-negative safe integer); may exceed the hold (overshoot). */
  amount: number
  /** As in {@link ReserveEntry.expiresAt}. */
  expiresAt: number | null
}

/** What one commit writes as its spend record. Numbers, ids, model and tags only; never content. */
export interface SpendRecord {
  /** The call id (unique). */
  callId: string
  /** When the call started, epoch ms. */
  startedAt: number
  /** When the call ended, epoch ms; records are ordered and queried by this field. */
  endedAt: number
  /** Everything else the manager records (model, usage, cost, context, status, ...). */
  [field: string]: JsonValue
}

/** Turn a call's holds into spend, atomically with its spend record. */
export interface CommitRequest {
  /** The call id of the reservation (or a fresh id for a commit without reservation). */
  callId: string
  /** The manager's current time, epoch milliseconds. */
  now: number
  /**
   * Amounts to add. Every hold of the call id is removed, whether or not its key is listed here. An empty
   * list with a `record` records a $0 event (a cache hit).
   */
  entries: CommitEntry[]
  /** Until when the store must remember that this call id was committed (duplicate detection). */
  dedupeUntil: number
  /** The spend record to store with the commit, or omitted. */
  record?: SpendRecord
}

/** Spent before and after one commit entry, so the manager can tell which commit crossed a threshold. */
export interface CommitBalance {
  /** `spent` before this commit. */
  before: number
  /** `spent` after this commit. */
  after: number
  /** Live holds after this commit. */
  reserved: number
}

/** The answer to a {@link CommitRequest}; `balances` are in the order of the request's entries. */
export interface CommitResult {
  /** True when the call id had already been committed: nothing was changed and `before === after`. */
  duplicate: boolean
  balances: CommitBalance[]
}

/**
 * Drop a call's holds (the call did not happen). Releasing a call id the store has never seen leaves a tombstone:
 * the id is remembered as released until `holdExpiresAt` (or `now` plus {@link RELEASE_TOMBSTONE_MS}), so a
 * reservation that arrives late (its request stalled after the caller gave up on it) changes nothing and answers
 * as a duplicate. This is how a caller cleans up a reservation whose outcome it does not know.
 */
export interface ReleaseRequest {
  callId: string
  now: number
  /**
   * The expiry of the hold the caller asked for, when it is releasing a reservation whose outcome is unknown: the
   * tombstone lasts at least until then, so the late reservation could not have held anything longer.
   */
  holdExpiresAt?: number | undefined
}

/** How long a release of an unknown call id is remembered when the request names no `holdExpiresAt` (10 minutes). */
export const RELEASE_TOMBSTONE_MS = 600_000

/** The answer to a {@link ReleaseRequest}. */
export interface ReleaseResult {
  /** True when holds existed and were removed; false when there was nothing to release. */
  released: boolean
}

/** Read balances of several keys. */
export interface BalancesRequest {
  keys: string[]
  now: number
}

/** Set keys back to zero spend (explicit resets). Holds are kept. */
export interface ResetRequest {
  keys: string[]
  now: number
}

/** A stored budget definition. `definition` is the manager's validated JSON; the store keeps it as is. */
export interface StoredBudget {
  /** Scope in `type:id` form. */
  scope: string
  /** The manager's definition (validated by the manager when read back). */
  definition: JsonValue
  /** Incremented by the store on every write; starts at 1. */
  revision: number
  /** When the budget was first created, epoch ms (anchor of rolling windows). */
  createdAt: number
  /** When it was last written, epoch ms. */
  updatedAt: number
}

/** One entry of a budget's audit history. */
export interface HistoryEntry {
  /** Scope in `type:id` form. */
  scope: string
  /** What happened. */
  action: 'create' | 'update' | 'increase' | 'reset' | 'delete'
  /** When, epoch ms. */
  at: number
  /** The definition before (null on create). */
  old: JsonValue
  /** The definition after (null on delete). */
  new: JsonValue
  /** Why, as given by the caller. */
  reason: string | null
}

/** Write or delete a budget definition, with its history entry, atomically. */
export interface PutBudgetRequest {
  scope: string
  /** The new definition, or `null` to delete. */
  definition: JsonValue | null
  /** The history entry to append. */
  history: HistoryEntry
  now: number
  /** Optimistic concurrency: only write if the stored revision is this (0: only if absent). */
  ifRevision?: number
}

/** The answer to a {@link PutBudgetRequest}. */
export type PutBudgetResult =
  { ok: true; budget: StoredBudget | null } | { ok: false; conflict: true; current: StoredBudget | null }

/** Which spend records to read. */
export interface RecordQuery {
  /** Inclusive lower bound on `endedAt`, epoch ms. */
  from?: number
  /** Exclusive upper bound on `endedAt`, epoch ms. */
  to?: number
  /** At most this many records, oldest first. */
  limit?: number
}

/**
 * One day of spend for one scope and model, kept by the store past the retention of raw records. Every commit with
 * a spend record adds to one row per scope the record names (`global`, `user:alice`, `team:search`, `org:...`,
 * `key:...`, `endUser:...`, `deployment:...`, `provider:...`, `tag:...` for each tag) for the record's UTC day
 * (of `endedAt`) and model. The sums are exact integers.
 */
export interface RollupRow {
  /** The UTC day of the calls' `endedAt`, `YYYY-MM-DD`. */
  day: string
  /** The scope in `type:id` form, or `global`. */
  scope: string
  /** The requested model (the record's `model`, else `modelServed`), or `(none)`. */
  model: string
  /** The model that served the calls (the record's `modelServed`, else `model`), or `(none)`. */
  modelServed: string
  /** Calls recorded. */
  calls: number
  /** Sum of the records' `usage.inputTokens`. */
  inputTokens: number
  /** Sum of the records' `usage.outputTokens`. */
  outputTokens: number
  /** Sum of the records' `costNanoUsd` (integer nano-USD). */
  costNanoUsd: number
  /** Sum of the records' `savedNanoUsd` (what cache hits would have cost, integer nano-USD). */
  savedNanoUsd: number
  /** Calls whose cost is an estimate (`estimated: true`). */
  estimatedCalls: number
}

/** Which rollup rows to read. */
export interface RollupQuery {
  /** Inclusive lower bound on the row's day, epoch ms (rows whose UTC day starts at or after it). */
  from?: number
  /** Exclusive upper bound on the row's day, epoch ms (rows whose UTC day starts before it). */
  to?: number
  /** Only these scopes (`global`, `user:alice`, ...), or only scopes of these types with `type:*` (`user:*`). */
  scopes?: string[]
}

/**
 * How far back a store's spend history is complete. A report over a range that starts before these instants is
 * partial: the store evicted some of what it would need.
 */
export interface SpendCoverage {
  /** Spend records with `endedAt` at or after this instant (epoch ms) are all kept; `null`: none was ever evicted. */
  recordsFrom: number | null
  /** Rollup days starting at or after this instant (a UTC midnight, epoch ms) are all kept; `null`: none was evicted. */
  rollupsFrom: number | null
}

/** The answer to a {@link RollupQuery}: the rows (sorted by day, scope, model, modelServed) and the coverage. */
export interface RollupResult extends SpendCoverage {
  rows: RollupRow[]
}

/**
 * A budget store. Every method is atomic and may be called concurrently. Implementations:
 * `memoryStore()`, `fileStore()`, `httpStore()`, `redisStore()`; check your own with
 * `runStoreContract` from `llm-budget/testing`.
 *
 * Errors: invalid requests throw `InvalidInputError` and change nothing; a store that cannot answer throws
 * `StorageError`.
 */
export interface BudgetStore {
  /** Short name for messages and metrics, e.g. `memory`, `file`, `redis`, `http`. */
  readonly name: string
  /**
   * The store's authoritative clock, when it has one (Redis server time). The manager uses it instead of
   * the local clock unless the user passed a clock explicitly.
   */
  readonly clock?: { now(): number }
  /** All-or-nothing reservation on every entry; idempotent by call id. */
  reserve(request: ReserveRequest): Promise<ReserveResult>
  /** Remove the call's holds and add the actual amounts; idempotent by call id. */
  commit(request: CommitRequest): Promise<CommitResult>
  /** Remove the call's holds; idempotent. */
  release(request: ReleaseRequest): Promise<ReleaseResult>
  /** Current balances of keys (unknown or expired keys read as zero). */
  balances(request: BalancesRequest): Promise<Balance[]>
  /** Set the keys' spend to zero. */
  reset(request: ResetRequest): Promise<void>
  /** Read one budget definition. */
  getBudget(scope: string): Promise<StoredBudget | null>
  /** Write or delete a budget definition and append its history entry. */
  putBudget(request: PutBudgetRequest): Promise<PutBudgetResult>
  /** Every stored budget definition. */
  listBudgets(): Promise<StoredBudget[]>
  /** Audit history of one scope, oldest first. */
  getHistory(scope: string): Promise<HistoryEntry[]>
  /** Spend records by `endedAt`, oldest first. */
  queryRecords(query: RecordQuery): Promise<SpendRecord[]>
  /**
   * Daily totals per scope and model, kept longer than the raw records, with how far back records and rollups
   * are complete. Every store that ships with llm-budget has it; a store without it answers spend reports from
   * its records alone (and cannot say when they are partial).
   */
  queryRollups?(query: RollupQuery): Promise<RollupResult>
  /** Flush and release resources. The store is unusable afterwards. */
  close(): Promise<void>
}
