/**
 * What the manager keeps per budget once compiled: the policy a definition determines (shared by every budget with
 * the same definition), the per-scope state (key prefix, current window, ledger keys built once per window) and the
 * ledger entries of one call (the plan). Internal to the manager.
 *
 * @packageDocumentation
 */
import type { LedgerUnit } from '../../stores/ledger/keys.js'
import type { CommitEntry, JsonValue, ReserveEntry } from '../../stores/types.js'
import type { BurstPolicy } from '../burst.js'
import type { CurrencyState } from '../currency-pins.js'
import type { OnExceeded } from '../definition.js'
import type { ScopeString } from '../scopes.js'
import type { BudgetWindow, WindowSpec } from '../windows.js'

/** The window of a per-model limit or of the rate limits, per scope: its current instance and its ledger keys. */
export interface CompiledWindow {
  spec: WindowSpec | null
  current: BudgetWindow | null
  /** Key prefix of the scope (or per-model limit) this window belongs to. */
  prefix: string
  /** Ledger keys of `current`, built once per window rather than once per call. */
  keys: Partial<Record<LedgerUnit, string>>
}

export interface ModelPolicy {
  model: string
  limitNano: number
  spec: WindowSpec | null
  /** Label for messages: `monthly`, `1h`, or `none`. */
  label: string
}

/**
 * What a definition alone determines (limits, window spec, rate limits, policy). Immutable, so every budget with
 * the same definition shares one: 100,000 users on one plan keep one policy, not 100,000.
 */
export interface BudgetPolicy {
  baseLimitNano: number | null
  increases: readonly { amountNano: number; until: number }[]
  spec: WindowSpec | null
  /** Label for messages: `monthly`, `1h`, or `none`. */
  label: string
  softNano: number | null
  thresholds: readonly number[]
  models: ReadonlyMap<string, ModelPolicy>
  rpm: number | null
  tpm: number | null
  parallel: number | null
  onExceeded: OnExceeded
  /** Burst windows (runaway protection, `burst.ts`). */
  bursts: readonly BurstPolicy[]
}

/**
 * A budget compiled for one scope, as cached: the shared policy plus what is per scope (key prefix, revision,
 * the current window and its ledger key). Kept small: the cache holds one per active scope.
 */
export interface CompiledBudget {
  /** When the cache entry was loaded (manager clock). */
  fetchedAt: number
  scopeString: ScopeString
  /**
   * Key prefix of the scope (`u:alice`), built when a key other than the period's `usd` key first needs it
   * (`prefixOf`); `null` until then. Most budgets only ever build their `usd` key, once per window.
   */
  prefix: string | null
  revision: number
  isDefault: boolean
  policy: BudgetPolicy
  /** Current window of the budget (null: none yet, or a budget without a window). */
  current: BudgetWindow | null
  /** The `usd` ledger key of `current`, built once per window; null until needed. */
  usdKey: string | null
  /** The `usd` entry of `current` (same for every call in the window and at the same limit); null until needed. */
  usdMeta: EntryMeta | null
  /** Windows of per-model limits (by model) and rate limits (by `''`), for budgets that have them. */
  windows: Map<string, CompiledWindow> | null
  /** The pinned exchange rate of a budget in another currency than USD (see `currency-pins.ts`), else `null`. */
  currency: CurrencyState | null
}

/** A cached "no budget for this scope" (it has no policy). */
export interface AbsentBudget {
  fetchedAt: number
  policy?: undefined
}

export type CachedBudget = CompiledBudget | AbsentBudget

/** `burst`: a burst window of the budget; `run`: a run budget the call is made in (`runaway-plan.ts`). */
export type EntryKind = 'usd' | 'model' | 'rpm' | 'tpm' | 'par' | 'burst' | 'run'

/** Entries that count money (the period, per-model, burst and run limits), as opposed to rate limits. */
export function isMoney(kind: EntryKind): boolean {
  return kind !== 'rpm' && kind !== 'tpm' && kind !== 'par'
}

/** What the manager knows of one ledger entry of a plan: whose limit it is, in which window. */
export interface EntryMeta {
  budget: CompiledBudget
  kind: EntryKind
  model?: ModelPolicy
  /** The burst limit of a `burst` entry. */
  burst?: BurstPolicy
  window: BudgetWindow | null
  windowLabel: string
  /** Limit used for admission (null: tracked only). */
  limit: number | null
  /** The budget's limit even when not enforced (warn). */
  softLimit: number | null
  key: string
  expiresAt: number | null
}

/** The ledger entries of one call, and what each one is. */
export interface Plan {
  entries: ReserveEntry[]
  meta: EntryMeta[]
  /** `currency` and `rate` (and `rates`) for the spend record, when a budget in another currency applied. */
  rates?: Record<string, JsonValue> | undefined
  /** The keys a commit of this plan adds to, worked out on its first commit (`commit.ts`). */
  commitKeys?: CommitKeys | undefined
}

/** The keys a commit writes: the plan's entries but `par`, then the all-time keys of `tracked` not among them. */
export interface CommitKeys {
  /** The all-time keys these were worked out for. */
  tracked: readonly string[]
  /** All-time keys not already counted by one of the plan's entries. */
  extra: readonly string[]
  /** Entries of the plan that are not `par`. */
  planned: number
  /** The entries of a synchronous commit (with `extra`), rewritten by each one (`commit.ts`). */
  scratch: CommitEntry[] | undefined
}
