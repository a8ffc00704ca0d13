/**
 * `BudgetManager`: budgets per scope on an exact, atomic, windowed ledger.
 *
 * A call is admitted by reserving its worst case on every ledger key it counts against (one key per
 * applicable budget, window and unit) in one atomic store operation, then committing the actual cost or
 * releasing the hold. The store does the arithmetic; the manager owns policy, prices and time.
 *
 * @packageDocumentation
 */
import { LRUCache } from 'lru-cache'
import { z } from 'zod'
import { parseOptions } from '../internal/options.js'
import type { PriceCatalog } from '../cost/catalog.js'
import {
  BudgetConfigError,
  BudgetExceededError,
  InvalidInputError,
  RateLimitError,
  StorageError,
  isBudgetExceededError,
} from '../errors.js'
import { memoryStore } from '../stores/memory.js'
import { defaultCatalog } from '../cost/catalog.js'
import { providerBudgetDefinitions, type ProviderBudgetConfig } from './provider-budgets.js'
import { routingHost, selectDeployment, type Deployment, type SelectDeploymentOptions } from './routing.js'
import * as litellm from './litellm.js'
import { type PricedCommit, priceCommit } from './commit-pricing.js'
import { HeldReservation, type ReservationWriter } from './held-reservation.js'
import { asStorageError, isInputError } from './store-errors.js'
import { DEFAULT_SPEND_TRACKING_TTL_MS, trackedKey, trackedKeys } from './tracked-spend.js'
import type { ProjectedCostInput, UpdateCostInput } from './litellm.js'
import type {
  BudgetStore,
  CommitBalance,
  CommitEntry,
  HistoryEntry,
  JsonValue,
  ReserveEntry,
  SpendRecord,
  StoredBudget,
} from '../stores/types.js'
import {
  type BudgetDefinition,
  type OnExceeded,
  type StoredDefinition,
  fromStoredJson,
  limitWithIncreases,
  toStoredJson,
  validateDefinition,
} from './definition.js'
import { type BudgetEventName, type BudgetEvents, type BudgetListener, type EventWindow, EventHub } from './events.js'
import { type LedgerUnit, flatString, ledgerKey, modelPrefix, scopePrefix } from '../stores/ledger/keys.js'
import { MAX_NANO, formatNano, fractionOfNano, nanoToUsd, usdInputToNano, usdToNano } from './money.js'
import { type EstimateRequest, estimateRequest } from './pricing.js'
import { type SpendQuery, type SpendReport, filterRecords } from './records.js'
import { spendReport } from './spend-report.js'
import {
  type CallContext,
  type ResolvedContext,
  type Scope,
  type ScopeInput,
  type ScopeType,
  SCOPE_TYPES,
  parseScope,
  resolveContext,
  scopeKey,
  validateId,
} from './scopes.js'
import { type BudgetWindow, type Duration, type WindowSpec, parseDuration, windowAt } from './windows.js'
import { forecastWindow } from './forecast.js'
import { claimOnce, projectedCrossing } from './forecast-alert.js'

// The public types of the manager live in manager-types.ts; re-exported here for its importers.
export type * from './manager-types.js'
import type {
  Clock,
  BudgetManagerOptions,
  Estimate,
  ReserveOptions,
  CommitInput,
  CallStatus,
  Overshoot,
  CommitOutcome,
  Reservation,
  BudgetInfo,
  BudgetStatus,
  IncreaseInput,
} from './manager-types.js'

/** The window of a per-model limit or of the rate limits, per scope: its current instance and its ledger keys. */
interface CompiledWindow {
  spec: WindowSpec | null
  current: BudgetWindow | null
  /** Key prefix of the scope (or per-model limit) this window belongs to. */
  prefix: string
  /** Ledger keys of `current`, built once per window rather than once per call. */
  keys: Partial<Record<LedgerUnit, string>>
}

interface ModelPolicy {
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
interface BudgetPolicy {
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
}

/**
 * A budget compiled for one scope, as cached: the shared policy plus what is per scope (key prefix, revision,
 * the current window and its ledger key). Kept small: the cache holds one per active scope.
 */
interface CompiledBudget {
  /** When the cache entry was loaded (manager clock). */
  fetchedAt: number
  scopeString: string
  prefix: string
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
}

/** A cached "no budget for this scope" (it has no policy). */
interface AbsentBudget {
  fetchedAt: number
  policy?: undefined
}

type CachedBudget = CompiledBudget | AbsentBudget

type EntryKind = 'usd' | 'model' | 'rpm' | 'tpm' | 'par'

interface EntryMeta {
  budget: CompiledBudget
  kind: EntryKind
  model?: ModelPolicy
  window: BudgetWindow | null
  windowLabel: string
  /** Limit used for admission (null: tracked only). */
  limit: number | null
  /** The budget's limit even when not enforced (warn). */
  softLimit: number | null
  key: string
  expiresAt: number | null
}

interface Plan {
  entries: ReserveEntry[]
  meta: EntryMeta[]
}

const SYSTEM_CLOCK: Clock = { now: () => Date.now() }
/** Shared by every budget without increases / thresholds (read only). */
const NO_INCREASES: readonly { amountNano: number; until: number }[] = []
const NO_THRESHOLDS: readonly number[] = []
/** Shared by every budget without per-model limits (read only). */
const NO_MODELS: ReadonlyMap<string, ModelPolicy> = new Map()
const MINUTE_SPEC: WindowSpec = { duration: '1m' }
/** Most distinct budget policies kept for sharing (then the table starts over). */
const MAX_POLICIES = 1024
/** The cache key of the rate-limit window in {@link CompiledBudget.windows} (model names are never empty). */
const RATE_WINDOW = ''
const DEFAULT_HOLD_TTL_MS = 600_000
const DEFAULT_DEDUPE_TTL_MS = 120_000
const KEY_GRACE_MS = 60_000
const MAX_OPTIMISTIC_RETRIES = 8

function checkMs(field: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new BudgetConfigError(
      field,
      `\`${field}\` must be a whole number of milliseconds >= ${min}, got ${String(value)}`,
    )
  }
  return value
}

function randomPrefix(): string {
  const bytes = new Uint8Array(8)
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto
  if (c?.getRandomValues) c.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  let out = ''
  for (const b of bytes) out += b.toString(36).padStart(2, '0')
  return out
}

/** The scope of a `type:id` string built by `scopeKey` (types have no `:`; the id is the rest). */
function scopeOf(scopeString: string): Scope {
  const colon = scopeString.indexOf(':')
  return { type: scopeString.slice(0, colon) as ScopeType, id: scopeString.slice(colon + 1) }
}

/** The model and provider of a call, for `budget.exceeded` (metrics label blocked calls with them). */
function callLabels(context: CallContext): { callModel?: string; provider?: string } {
  return {
    ...(context.model === undefined ? {} : { callModel: context.model }),
    ...(context.provider === undefined ? {} : { provider: context.provider }),
  }
}

function toDate(ms: number | null | undefined): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms)
}

function eventWindow(window: BudgetWindow | null): EventWindow {
  return window === null
    ? { id: 'all', start: null, resetsAt: null }
    : { id: window.id, start: new Date(window.start), resetsAt: new Date(window.end) }
}

/** The known options of {@link BudgetManager}; values are checked one by one in the constructor. */
const MANAGER_OPTIONS = z.object({
  projectName: z.unknown().optional(),
  store: z.unknown().optional(),
  catalog: z.unknown().optional(),
  clock: z.unknown().optional(),
  onStoreError: z.unknown().optional(),
  defaults: z.unknown().optional(),
  holdTtlMs: z.unknown().optional(),
  budgetCacheTtlMs: z.unknown().optional(),
  budgetCacheMax: z.unknown().optional(),
  dedupeTtlMs: z.unknown().optional(),
  spendTrackingTtlMs: z.unknown().optional(),
})

/** A caller's call id: an id of at most 120 characters (stores add their own prefixes within their 200). */
function validateCallId(callId: string): void {
  validateId('callId', callId)
  if (callId.length > 120) throw new InvalidInputError('callId', '`callId` must be at most 120 characters')
}

let reserveResolvedOf: (
  manager: BudgetManager,
  resolved: ResolvedContext,
  estimate: Estimate,
  options?: ReserveOptions,
) => Promise<Reservation>

/**
 * `manager.reserve()` with a context validated once (withBudget's static contexts). Internal: not exported from any
 * entry point.
 */
export function reserveResolved(
  manager: BudgetManager,
  resolved: ResolvedContext,
  estimate: Estimate,
  options?: ReserveOptions,
): Promise<Reservation> {
  return reserveResolvedOf(manager, resolved, estimate, options)
}

/**
 * Tracks and limits LLM spend per scope (global, org, team, user, key, end user, tag, provider, deployment,
 * model) with exact integer money, atomic admission and windows that reset by themselves.
 *
 * @example
 * ```ts
 * const budgets = new BudgetManager({ store: memoryStore() })
 * await budgets.setBudget('team:search', { maxBudget: 500, duration: 'monthly' })
 * const reservation = await budgets.reserve({ team: 'search', user: 'alice' }, 0.05)
 * await reservation.commit({ usage: response.usage, model: 'gpt-4o' })
 * ```
 */
export class BudgetManager {
  /** The store this manager uses. */
  readonly store: BudgetStore
  /** The clock this manager uses. */
  readonly clock: Clock
  /** Project name written into records, or `null`. */
  readonly projectName: string | null
  private readonly catalog: PriceCatalog | undefined
  private readonly onStoreError: 'deny' | 'allow'
  private readonly holdTtlMs: number
  private readonly dedupeTtlMs: number
  private readonly cacheTtlMs: number
  /** Sliding expiry of the all-time key of each named scope; `null` keeps it forever. */
  private readonly spendTrackingTtlMs: number | null
  private readonly defaults = new Map<ScopeType, BudgetDefinition>()
  private readonly cache: LRUCache<string, CachedBudget>
  private readonly pending = new Map<string, Promise<CompiledBudget | null>>()
  private readonly policies = new Map<string, BudgetPolicy>()
  private readonly calendarSpecs = new Map<string, WindowSpec>()
  private readonly events = new EventHub()
  /** The random part of this manager's call ids, with its `-`. */
  private readonly idPrefix = `${randomPrefix()}-`
  private counter = 0

  static {
    reserveResolvedOf = (manager, resolved, estimate, options) => manager.#reserveResolved(resolved, estimate, options)
  }
  /** How held reservations price, commit and release through this manager. */
  readonly #writer: ReservationWriter<Plan> = {
    price: (input, fallback) => priceCommit(this.catalog, input, fallback),
    commit: (write) => this.#writeCommit(write),
    release: (callId) => this.#writeRelease(callId),
  }

  constructor(options: BudgetManagerOptions = {}) {
    parseOptions('new BudgetManager()', MANAGER_OPTIONS, options)
    this.store = options.store ?? memoryStore()
    this.clock = options.clock ?? this.store.clock ?? SYSTEM_CLOCK
    if (typeof this.clock.now !== 'function')
      throw new BudgetConfigError('clock', '`clock` must be `{ now(): number }` (epoch milliseconds)')
    this.catalog = options.catalog
    this.projectName = options.projectName === undefined ? null : validateId('projectName', options.projectName)
    const onStoreError = options.onStoreError ?? 'deny'
    if (onStoreError !== 'deny' && onStoreError !== 'allow')
      throw new BudgetConfigError('onStoreError', "`onStoreError` must be 'deny' or 'allow'")
    this.onStoreError = onStoreError
    this.holdTtlMs = checkMs('holdTtlMs', options.holdTtlMs, DEFAULT_HOLD_TTL_MS, 1)
    this.dedupeTtlMs = checkMs('dedupeTtlMs', options.dedupeTtlMs, DEFAULT_DEDUPE_TTL_MS, 1)
    this.cacheTtlMs = checkMs('budgetCacheTtlMs', options.budgetCacheTtlMs, 1000)
    const cacheMax = checkMs('budgetCacheMax', options.budgetCacheMax, 100_000, 1)
    this.spendTrackingTtlMs =
      options.spendTrackingTtlMs === Number.POSITIVE_INFINITY
        ? null
        : checkMs('spendTrackingTtlMs', options.spendTrackingTtlMs, DEFAULT_SPEND_TRACKING_TTL_MS, 1)
    this.cache = new LRUCache({ max: cacheMax })
    if (options.defaults !== undefined) {
      if (typeof options.defaults !== 'object' || options.defaults === null)
        throw new BudgetConfigError(
          'defaults',
          '`defaults` must be an object such as `{ endUser: { maxBudget: 1, duration: "daily" } }`',
        )
      for (const [type, definition] of Object.entries(options.defaults)) {
        if (!(SCOPE_TYPES as readonly string[]).includes(type) || type === 'global') {
          throw new BudgetConfigError(
            `defaults.${type.slice(0, 40)}`,
            `\`defaults\` keys must be scope types other than global (${SCOPE_TYPES.slice(1).join(', ')}); for a global budget use setBudget('global', ...)`,
          )
        }
        try {
          this.defaults.set(type as ScopeType, validateDefinition(definition))
        } catch (error) {
          if (error instanceof BudgetConfigError)
            throw new BudgetConfigError(`defaults.${type}.${error.field}`, `\`defaults.${type}\`: ${error.message}`, {
              cause: error,
            })
          throw error
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------------ events

  /**
   * Subscribes to an event; returns a function that unsubscribes. Listeners never block or fail a call.
   *
   * @example
   * ```ts
   * const off = budgets.on('threshold.crossed', (e) => notify(`${e.scope} at ${e.percent}%`))
   * ```
   */
  on<E extends BudgetEventName>(event: E, listener: BudgetListener<E>): () => void {
    return this.events.on(event, listener)
  }

  private emit<E extends BudgetEventName>(event: E, payload: BudgetEvents[E]): void {
    this.events.emit(event, payload)
  }

  // ------------------------------------------------------------------------------------------------ budgets

  /**
   * The window spec of a duration. Calendar windows do not depend on the anchor, so every budget with the same
   * duration, zone and week start shares one spec object, and with it one cached window: 100,000 monthly
   * budgets cost one window computation and one window object, not 100,000.
   */
  private windowSpec(
    duration: string,
    timezone: string | undefined,
    weekStartsOn: WindowSpec['weekStartsOn'],
    anchor: number,
  ): WindowSpec {
    const calendar = parseDuration(duration).kind === 'calendar'
    const cacheKey = calendar ? `${duration}|${timezone ?? ''}|${weekStartsOn ?? ''}` : undefined
    const shared = cacheKey === undefined ? undefined : this.calendarSpecs.get(cacheKey)
    if (shared !== undefined) return shared
    const spec: WindowSpec = calendar ? { duration } : { duration, anchor }
    if (timezone !== undefined) spec.timezone = timezone
    if (weekStartsOn !== undefined) spec.weekStartsOn = weekStartsOn
    if (cacheKey !== undefined) this.calendarSpecs.set(cacheKey, spec)
    return spec
  }

  /** The shared policy of a definition (with the anchor of its rolling windows and its live increases). */
  private policyOf(stored: StoredDefinition): BudgetPolicy {
    const d = stored.definition
    // The anchor only moves rolling windows: budgets on calendar windows share a policy whatever their creation time.
    const rolling = (duration: string | undefined): boolean =>
      duration !== undefined && parseDuration(duration).kind === 'rolling'
    const anchored =
      rolling(d.duration) || Object.values(d.modelMaxBudget ?? {}).some((limit) => rolling(limit.duration))
    // Everything the policy is computed from (never `metadata`), as text: equal text, equal policy.
    const text = JSON.stringify([
      d.maxBudget,
      d.duration,
      d.timezone,
      d.weekStartsOn,
      d.softBudget,
      d.alertThresholds,
      d.modelMaxBudget,
      d.rpmLimit,
      d.tpmLimit,
      d.maxParallelRequests,
      d.onExceeded,
      anchored ? stored.anchor : null,
      stored.increases.map((inc) => [inc.amount, inc.until]),
    ])
    const shared = this.policies.get(text)
    if (shared !== undefined) return shared
    const specOf = (duration: string | undefined): WindowSpec | null =>
      duration === undefined ? null : this.windowSpec(duration, d.timezone, d.weekStartsOn, stored.anchor)
    let models: ReadonlyMap<string, ModelPolicy> = NO_MODELS
    if (d.modelMaxBudget !== undefined) {
      const perModel = new Map<string, ModelPolicy>()
      for (const [model, limit] of Object.entries(d.modelMaxBudget)) {
        const duration = limit.duration ?? d.duration
        perModel.set(model, {
          model,
          limitNano: usdToNano(limit.maxBudget, `modelMaxBudget.${model}.maxBudget`),
          spec: specOf(duration),
          label: duration ?? 'none',
        })
      }
      models = perModel
    }
    const policy: BudgetPolicy = {
      baseLimitNano: d.maxBudget === undefined ? null : usdToNano(d.maxBudget, 'maxBudget'),
      increases:
        stored.increases.length === 0
          ? NO_INCREASES
          : stored.increases.map((inc) => ({ amountNano: usdToNano(inc.amount, 'amount'), until: inc.until })),
      spec: specOf(d.duration),
      label: d.duration ?? 'none',
      softNano: d.softBudget === undefined ? null : usdToNano(d.softBudget, 'softBudget'),
      thresholds: d.alertThresholds ?? NO_THRESHOLDS,
      models,
      rpm: d.rpmLimit ?? null,
      tpm: d.tpmLimit ?? null,
      parallel: d.maxParallelRequests ?? null,
      onExceeded: d.onExceeded ?? 'block',
    }
    if (this.policies.size >= MAX_POLICIES) this.policies.clear()
    this.policies.set(text, policy)
    return policy
  }

  private compile(
    scope: Scope,
    scopeString: string,
    stored: StoredDefinition,
    revision: number,
    isDefault: boolean,
    fetchedAt = 0,
  ): CompiledBudget {
    return {
      fetchedAt,
      scopeString: flatString(scopeString),
      prefix: scopePrefix(scope),
      revision,
      isDefault,
      policy: this.policyOf(stored),
      current: null,
      usdKey: null,
      usdMeta: null,
      windows: null,
    }
  }

  private fromStored(
    scope: Scope,
    scopeString: string,
    stored: StoredBudget | null,
    fetchedAt = 0,
  ): CompiledBudget | null {
    if (stored !== null)
      return this.compile(
        scope,
        scopeString,
        fromStoredJson(stored.definition, stored.createdAt),
        stored.revision,
        false,
        fetchedAt,
      )
    const fallback = scope.type === 'global' ? undefined : this.defaults.get(scope.type)
    if (fallback === undefined) return null
    return this.compile(scope, scopeString, { definition: fallback, anchor: 0, increases: [] }, 0, true, fetchedAt)
  }

  private async loadBudget(scope: Scope, scopeString: string): Promise<CompiledBudget | null> {
    const inflight = this.pending.get(scopeString)
    if (inflight !== undefined) return inflight
    const promise = (async () => {
      try {
        const stored = await this.store.getBudget(scopeString)
        const fetchedAt = this.clock.now()
        const budget = this.fromStored(scope, scopeString, stored, fetchedAt)
        const entry: CachedBudget = budget ?? { fetchedAt }
        this.cache.set(budget?.scopeString ?? flatString(scopeString), entry)
        return budget
      } finally {
        this.pending.delete(scopeString)
      }
    })()
    this.pending.set(scopeString, promise)
    return promise
  }

  /** Budgets of the scopes from the cache when all are fresh (the fast path), else `undefined`. */
  private cachedBudgets(keys: readonly string[], now: number): (CompiledBudget | null)[] | undefined {
    const out: (CompiledBudget | null)[] = new Array(keys.length)
    for (let i = 0; i < keys.length; i++) {
      const hit = this.cache.get(keys[i]!)
      if (hit === undefined || now - hit.fetchedAt >= this.cacheTtlMs || now < hit.fetchedAt) return undefined
      out[i] = hit.policy === undefined ? null : hit
    }
    return out
  }

  private async budgetsFor(
    scopes: readonly Scope[],
    keys: readonly string[],
    now: number,
  ): Promise<(CompiledBudget | null)[]> {
    return Promise.all(
      scopes.map((scope, i) => {
        const scopeString = keys[i]!
        const hit = this.cache.get(scopeString)
        if (hit !== undefined && now - hit.fetchedAt < this.cacheTtlMs && now >= hit.fetchedAt)
          return hit.policy === undefined ? null : hit
        return this.loadBudget(scope, scopeString)
      }),
    )
  }

  private invalidate(scopeString: string): void {
    this.cache.delete(scopeString)
  }

  /** The budget's current window (null for a budget without a window); a new window drops the keys built for the last one. */
  private mainWindow(budget: CompiledBudget, now: number): BudgetWindow | null {
    const spec = budget.policy.spec
    if (spec === null) return null
    const current = budget.current
    if (current !== null && now >= current.start && now < current.end) return current
    const next = windowAt(spec, now)
    if (next !== current) {
      budget.usdKey = null
      budget.usdMeta = null
    }
    budget.current = next
    return next
  }

  /** The `usd` ledger key of the budget's current window (call `mainWindow` first), built once per window. */
  private mainKey(budget: CompiledBudget): string {
    let key = budget.usdKey
    if (key === null) {
      key = ledgerKey(budget.prefix, budget.current === null ? 'all' : budget.current.id, 'usd')
      budget.usdKey = key
    }
    return key
  }

  /** The per-scope window of a per-model limit (by model) or of the rate limits (`RATE_WINDOW`). */
  private windowOf(budget: CompiledBudget, name: string, spec: WindowSpec | null): CompiledWindow {
    let windows = budget.windows
    if (windows === null) {
      windows = new Map()
      budget.windows = windows
    }
    let window = windows.get(name)
    if (window === undefined) {
      window = {
        spec,
        current: null,
        prefix: name === RATE_WINDOW ? budget.prefix : modelPrefix(budget.prefix, name),
        keys: {},
      }
      windows.set(name, window)
    }
    return window
  }

  private currentWindow(window: CompiledWindow, now: number): BudgetWindow | null {
    if (window.spec === null) return null
    const current = window.current
    if (current !== null && now >= current.start && now < current.end) return current
    const next = windowAt(window.spec, now)
    if (next !== current) window.keys = {}
    window.current = next
    return next
  }

  /** The ledger key of a window's current instance (call `currentWindow` first) and a unit, built once. */
  private keyOf(window: CompiledWindow, unit: LedgerUnit): string {
    let key = window.keys[unit]
    if (key === undefined) {
      key = ledgerKey(window.prefix, window.current === null ? 'all' : window.current.id, unit)
      window.keys[unit] = key
    }
    return key
  }

  private limitNano(budget: CompiledBudget, now: number): number | null {
    const policy = budget.policy
    if (policy.baseLimitNano === null) return null
    if (policy.increases.length === 0) return policy.baseLimitNano
    return limitWithIncreases(
      policy.baseLimitNano,
      policy.increases.filter((inc) => inc.until > now),
    )
  }

  // ------------------------------------------------------------------------------------------------ admission

  private nextCallId(): string {
    this.counter++
    // Joined rather than concatenated: a flat string, which is what a store keeps for its dedupe window.
    return [this.idPrefix, this.counter.toString(36)].join('')
  }

  /**
   * The `usd` entry meta of a budget in its current window at `limit`. The same for every call in the window,
   * so it is kept from the second call on (a scope called once keeps nothing more).
   */
  private usdMeta(budget: CompiledBudget, window: BudgetWindow | null, limit: number | null, grace: number): EntryMeta {
    const hadKey = budget.usdKey !== null
    const key = this.mainKey(budget)
    const admission = budget.policy.onExceeded !== 'warn' ? limit : null
    const cached = budget.usdMeta
    if (cached !== null && cached.window === window && cached.softLimit === limit && cached.limit === admission)
      return cached
    const meta: EntryMeta = {
      budget,
      kind: 'usd',
      window,
      windowLabel: budget.policy.label,
      limit: admission,
      softLimit: limit,
      key,
      expiresAt: window === null ? null : window.end + grace,
    }
    if (hadKey) budget.usdMeta = meta
    return meta
  }

  /** Builds the ledger entries of a call: one per applicable budget, window and unit. */
  private plan(
    budgets: readonly (CompiledBudget | null)[],
    context: CallContext,
    amountNano: number,
    tokens: number,
    now: number,
  ): Plan {
    const entries: ReserveEntry[] = []
    const meta: EntryMeta[] = []
    const grace = this.holdTtlMs + KEY_GRACE_MS
    for (let b = 0; b < budgets.length; b++) {
      const budget = budgets[b]
      if (budget === null || budget === undefined) continue
      const policy = budget.policy
      const window = this.mainWindow(budget, now)
      const usd = this.usdMeta(budget, window, this.limitNano(budget, now), grace)
      entries.push({ key: usd.key, amount: amountNano, limit: usd.limit, expiresAt: usd.expiresAt })
      meta.push(usd)
      const block = policy.onExceeded !== 'warn'
      if (context.model !== undefined && policy.models.size > 0) {
        const modelLimit = policy.models.get(context.model)
        if (modelLimit !== undefined) {
          const state = this.windowOf(budget, modelLimit.model, modelLimit.spec)
          const mw = this.currentWindow(state, now)
          const key = this.keyOf(state, 'usd')
          const mExpires = mw === null ? null : mw.end + grace
          entries.push({ key, amount: amountNano, limit: block ? modelLimit.limitNano : null, expiresAt: mExpires })
          meta.push({
            budget,
            kind: 'model',
            model: modelLimit,
            window: mw,
            windowLabel: modelLimit.label,
            limit: block ? modelLimit.limitNano : null,
            softLimit: modelLimit.limitNano,
            key,
            expiresAt: mExpires,
          })
        }
      }
      if (policy.rpm !== null || policy.tpm !== null) {
        const rate = this.windowOf(budget, RATE_WINDOW, MINUTE_SPEC)
        const minute = this.currentWindow(rate, now)!
        const rateExpires = minute.end + grace
        if (policy.rpm !== null) {
          const key = this.keyOf(rate, 'req')
          entries.push({ key, amount: 1, limit: policy.rpm, expiresAt: rateExpires })
          meta.push({
            budget,
            kind: 'rpm',
            window: minute,
            windowLabel: '1m',
            limit: policy.rpm,
            softLimit: policy.rpm,
            key,
            expiresAt: rateExpires,
          })
        }
        if (policy.tpm !== null) {
          const key = this.keyOf(rate, 'tok')
          entries.push({ key, amount: tokens, limit: policy.tpm, expiresAt: rateExpires })
          meta.push({
            budget,
            kind: 'tpm',
            window: minute,
            windowLabel: '1m',
            limit: policy.tpm,
            softLimit: policy.tpm,
            key,
            expiresAt: rateExpires,
          })
        }
      }
      if (policy.parallel !== null) {
        const key = ledgerKey(budget.prefix, 'all', 'par')
        const parExpires = now + this.holdTtlMs + grace
        entries.push({ key, amount: 1, limit: policy.parallel, expiresAt: parExpires })
        meta.push({
          budget,
          kind: 'par',
          window: null,
          windowLabel: 'none',
          limit: policy.parallel,
          softLimit: policy.parallel,
          key,
          expiresAt: parExpires,
        })
      }
    }
    return { entries, meta }
  }

  private refusal(
    meta: EntryMeta,
    balance: { spent: number; reserved: number },
    requested: number,
    now: number,
  ): BudgetExceededError | RateLimitError {
    const scope = scopeOf(meta.budget.scopeString)
    const limit = meta.limit ?? 0
    if (meta.kind === 'rpm' || meta.kind === 'tpm' || meta.kind === 'par') {
      const retryAfterMs =
        meta.kind === 'par' ? Math.min(1000, this.holdTtlMs) : Math.max(0, (meta.window?.end ?? now) - now)
      return new RateLimitError({
        scope,
        limitType: meta.kind === 'par' ? 'parallel' : meta.kind,
        limit,
        current: balance.spent + balance.reserved,
        requested,
        retryAfterMs,
      })
    }
    const details = {
      scope,
      key: meta.key,
      window: meta.windowLabel,
      limit: nanoToUsd(limit),
      spent: nanoToUsd(balance.spent),
      reserved: nanoToUsd(balance.reserved),
      requested: nanoToUsd(requested),
      resetsAt: toDate(meta.window?.end),
      retryAfterMs: meta.window === null ? null : Math.max(0, meta.window.end - now),
    }
    return new BudgetExceededError(meta.model === undefined ? details : { ...details, model: meta.model.model })
  }

  private priceEstimate(estimate: unknown): { nano: number; tokens: number; model: string | undefined } {
    if (typeof estimate === 'number') return { nano: usdInputToNano(estimate, 'estimate'), tokens: 0, model: undefined }
    if (typeof estimate === 'object' && estimate !== null && !Array.isArray(estimate)) {
      const priced = estimateRequest(this.catalog, estimate as EstimateRequest)
      return priced
    }
    throw new InvalidInputError(
      'estimate',
      `\`estimate\` must be a USD number or { model, inputTokens | messages, maxOutputTokens }, got ${estimate === null ? 'null' : typeof estimate}`,
    )
  }

  /**
   * Reserves the worst case of a call on every budget that applies to its context, atomically: either every
   * budget admits it (`spent + reserved + estimate <= limit`) and the amounts are held, or nothing changes and
   * the call is refused.
   *
   * @param context Who the call counts against (`{ user, team, org, key, endUser, tags, model, provider, deployment }`).
   * @param estimate Worst case in USD, or `{ model, inputTokens | messages, maxOutputTokens }` to estimate from prices.
   * @throws BudgetExceededError naming the budget that refused; RateLimitError for rpm/tpm/parallel limits;
   *   InvalidInputError for bad input (nothing changed); StorageError when the store fails and `onStoreError` is `deny`.
   */
  async reserve(context: CallContext, estimate: Estimate, options: ReserveOptions = {}): Promise<Reservation> {
    return this.#reserveResolved(resolveContext(context), estimate, options)
  }

  /** `reserve` with a context validated once (withBudget's static contexts). Does not change `resolved`. */
  #reserveResolved(resolved: ResolvedContext, estimate: Estimate, options: ReserveOptions = {}): Promise<Reservation> {
    if (options.callId !== undefined) {
      validateCallId(options.callId)
    }
    const priced = this.priceEstimate(estimate)
    let { context, scopes, keys } = resolved
    if (typeof estimate === 'object' && context.model === undefined && priced.model !== undefined) {
      validateId('estimate.model', priced.model)
      context = { ...context, model: priced.model }
      const scope: Scope = { type: 'model', id: priced.model }
      scopes = [...scopes, scope]
      keys = [...keys, scopeKey(scope)]
    }
    const callId = options.callId ?? this.nextCallId()
    if (options.allowFallback !== undefined && typeof options.allowFallback !== 'boolean')
      throw new InvalidInputError('allowFallback', '`allowFallback` must be a boolean')
    return this.admit(context, scopes, keys, priced, callId, estimate, options.allowFallback ?? true)
  }

  private async admit(
    context: CallContext,
    scopes: Scope[],
    keys: string[],
    priced: { nano: number; tokens: number; model: string | undefined },
    callId: string,
    estimate: Estimate,
    allowFallback: boolean,
  ): Promise<Reservation> {
    const now = this.clock.now()
    let budgets = this.cachedBudgets(keys, now)
    if (budgets === undefined) {
      try {
        budgets = await this.budgetsFor(scopes, keys, now)
      } catch (error) {
        if (isInputError(error)) throw error
        return this.storeFailure('getBudget', error, context, scopes, priced, callId, now)
      }
    }
    const plan = this.plan(budgets, context, priced.nano, priced.tokens, now)
    const holdExpiresAt = now + this.holdTtlMs
    if (plan.entries.length === 0) {
      return new HeldReservation(
        this.#writer,
        callId,
        context,
        priced.nano,
        priced.tokens,
        priced.model ?? context.model,
        now,
        holdExpiresAt,
        plan,
        true,
        false,
        trackedKeys(scopes),
      )
    }
    let result
    try {
      result = await this.store.reserve({ callId, now, holdExpiresAt, entries: plan.entries })
    } catch (error) {
      if (isInputError(error)) throw error
      // The store may have applied the reservation before it failed (a timeout after the request was sent): release
      // the call id, best effort, so its holds (or a late arrival, which the store then ignores) count for nothing.
      await this.store.release({ callId, now: this.clock.now(), holdExpiresAt }).catch(() => undefined)
      return this.storeFailure('reserve', error, context, scopes, priced, callId, now)
    }
    if (!result.ok) {
      const meta = plan.meta[result.refusedIndex]!
      const balance = result.balances[result.refusedIndex] ?? { spent: 0, reserved: 0 }
      const requested = plan.entries[result.refusedIndex]!.amount
      const refusal = this.refusal(meta, balance, requested, now)
      const onExceeded = meta.budget.policy.onExceeded
      if (isBudgetExceededError(refusal)) {
        const fallback = typeof onExceeded === 'object' ? onExceeded.fallbackModel : undefined
        this.emit('budget.exceeded', {
          scope: meta.budget.scopeString,
          ...(meta.model === undefined ? {} : { model: meta.model.model }),
          action: fallback !== undefined && allowFallback ? 'fallback' : 'block',
          ...callLabels(context),
          limit: refusal.limit,
          spent: refusal.spent,
          reserved: refusal.reserved,
          requested: refusal.requested,
          window: eventWindow(meta.window),
          callId,
        })
        if (fallback !== undefined && allowFallback && typeof estimate === 'object' && estimate.model !== fallback) {
          const fallbackEstimate: EstimateRequest = { ...estimate, model: fallback }
          const fallbackPriced = this.priceEstimate(fallbackEstimate)
          const fallbackContext: CallContext = { ...context, model: fallback }
          const fallbackScopes = scopes.map((s) => (s.type === 'model' ? { type: 'model' as const, id: fallback } : s))
          return this.admit(
            fallbackContext,
            fallbackScopes,
            fallbackScopes.map(scopeKey),
            fallbackPriced,
            callId,
            fallbackEstimate,
            false,
          )
        }
      }
      throw refusal
    }
    if (!result.duplicate) this.warnOver(plan, result.balances, callId, context)
    return new HeldReservation(
      this.#writer,
      callId,
      context,
      priced.nano,
      priced.tokens,
      priced.model ?? context.model,
      now,
      holdExpiresAt,
      plan,
      true,
      false,
      trackedKeys(scopes),
    )
  }

  /** Emits `budget.exceeded` with `action: 'warn'` for `warn` budgets that the reservation took over their limit. */
  private warnOver(
    plan: Plan,
    balances: readonly { spent: number; reserved: number }[],
    callId: string,
    context: CallContext,
  ): void {
    if (!this.events.has('budget.exceeded')) return
    for (let i = 0; i < plan.meta.length; i++) {
      const meta = plan.meta[i]!
      if (meta.limit !== null || meta.softLimit === null || (meta.kind !== 'usd' && meta.kind !== 'model')) continue
      const balance = balances[i]
      if (balance === undefined || balance.spent + balance.reserved <= meta.softLimit) continue
      this.emit('budget.exceeded', {
        scope: meta.budget.scopeString,
        ...(meta.model === undefined ? {} : { model: meta.model.model }),
        action: 'warn',
        ...callLabels(context),
        limit: nanoToUsd(meta.softLimit),
        spent: nanoToUsd(balance.spent),
        reserved: nanoToUsd(balance.reserved - plan.entries[i]!.amount),
        requested: nanoToUsd(plan.entries[i]!.amount),
        window: eventWindow(meta.window),
        callId,
      })
    }
  }

  private storeFailure(
    operation: string,
    error: unknown,
    context: CallContext,
    scopes: readonly Scope[],
    priced: { nano: number; tokens: number; model: string | undefined },
    callId: string,
    now: number,
  ): Reservation {
    const storageError = asStorageError(error, this.store.name)
    this.emit('store.error', { operation, action: this.onStoreError, error: storageError, callId })
    if (this.onStoreError === 'deny') throw storageError
    return new HeldReservation(
      this.#writer,
      callId,
      context,
      priced.nano,
      priced.tokens,
      priced.model ?? context.model,
      now,
      now + this.holdTtlMs,
      { entries: [], meta: [] },
      false,
      true,
      trackedKeys(scopes),
    )
  }

  // ------------------------------------------------------------------------------------------------ commit

  /** Writes a commit for a reservation or a direct record. */
  async #writeCommit(args: {
    callId: string
    context: CallContext
    plan: Plan
    startedAt: number
    priced: PricedCommit
    modelRequested: string | undefined
    estimateNano: number | null
    guarded: boolean
    /** The all-time keys of the scopes the call names (spend tracked budget or not). */
    tracked: readonly string[]
  }): Promise<CommitOutcome> {
    const { callId, plan, priced } = args
    const now = this.clock.now()
    const entries: CommitEntry[] = []
    for (let i = 0; i < plan.meta.length; i++) {
      const meta = plan.meta[i]!
      if (meta.kind === 'par') continue
      const amount = meta.kind === 'rpm' ? 1 : meta.kind === 'tpm' ? priced.tokens : priced.nano
      entries.push({ key: meta.key, amount, expiresAt: meta.expiresAt })
    }
    if (priced.nano > 0) {
      const trackedUntil = this.spendTrackingTtlMs === null ? null : now + this.spendTrackingTtlMs
      for (const key of args.tracked) {
        // A budget without a window counts on the same all-time key already.
        if (!entries.some((entry) => entry.key === key))
          entries.push({ key, amount: priced.nano, expiresAt: trackedUntil })
      }
    }
    const costText = formatNano(priced.nano)
    const record = this.buildRecord(args, now, costText)
    let result
    try {
      result = await this.store.commit({ callId, now, entries, dedupeUntil: now + this.dedupeTtlMs, record })
    } catch (error) {
      if (isInputError(error)) throw error
      const storageError = asStorageError(error, this.store.name)
      this.emit('store.error', { operation: 'commit', action: 'lost', error: storageError, callId })
      throw storageError
    }
    const overshoot: Overshoot[] = []
    const cost = nanoToUsd(priced.nano)
    if (!result.duplicate) {
      // `balances` follow `entries`, which skip the `par` metas.
      for (let i = 0, j = 0; i < plan.meta.length; i++) {
        const meta = plan.meta[i]!
        if (meta.kind === 'par') continue
        const balance = result.balances[j++]
        if (balance === undefined || (meta.kind !== 'usd' && meta.kind !== 'model')) continue
        this.checkCrossings(meta, balance.before, balance.after, callId, now, overshoot)
        this.checkForecast(meta, balance, callId, now)
      }
      if (this.events.has('spend.recorded')) this.emit('spend.recorded', { record, cost, estimated: priced.estimated })
    }
    return {
      callId,
      duplicate: result.duplicate,
      cost,
      exact: { cost: costText },
      costNanoUsd: priced.nano,
      estimated: priced.estimated,
      status: priced.status,
      overshoot,
      record: result.duplicate ? null : record,
    }
  }

  /** Raises `forecast.exceeded` once per scope and window (claimed through the store) when this commit takes the projection over the limit. */
  private checkForecast(meta: EntryMeta, balance: CommitBalance, callId: string, now: number): void {
    if (meta.kind !== 'usd' || meta.window === null || !this.events.has('forecast.exceeded')) return
    const limit = this.limitNano(meta.budget, now)
    if (limit === null) return
    const window = meta.window
    const crossing = projectedCrossing({
      start: window.start,
      end: window.end,
      now,
      before: balance.before,
      after: balance.after,
      reserved: balance.reserved,
      limitNano: limit,
    })
    if (crossing === null) return
    const scope = meta.budget.scopeString
    claimOnce(this.store, ledgerKey(`${meta.budget.prefix}|fc`, window.id, 'usd'), callId, now, window.end).then(
      (claimed) => {
        if (!claimed) return
        this.emit('forecast.exceeded', {
          scope,
          projectedSpend: nanoToUsd(crossing.projectedNano),
          limit: nanoToUsd(limit),
          spend: nanoToUsd(balance.after),
          exhaustsAt: toDate(crossing.exhaustsAt),
          window: eventWindow(window),
          callId,
        })
      },
      (error: unknown) =>
        this.emit('store.error', {
          operation: 'forecastClaim',
          action: 'lost',
          error: asStorageError(error, this.store.name),
          callId,
        }),
    )
  }

  private checkCrossings(
    meta: EntryMeta,
    before: number,
    after: number,
    callId: string,
    now: number,
    overshoot: Overshoot[],
  ): void {
    if (after <= before) return
    const limit = meta.kind === 'model' ? meta.softLimit : this.limitNano(meta.budget, now)
    const scope = meta.budget.scopeString
    const model = meta.model?.model
    if (limit !== null && after > limit) {
      const item: Overshoot = {
        scope,
        limit: nanoToUsd(limit),
        spent: nanoToUsd(after),
        overshoot: nanoToUsd(after - limit),
      }
      if (model !== undefined) item.model = model
      overshoot.push(item)
      this.emit('budget.overshot', {
        scope,
        ...(model === undefined ? {} : { model }),
        limit: item.limit,
        spent: item.spent,
        overshoot: item.overshoot,
        callId,
        window: eventWindow(meta.window),
      })
    }
    if (meta.kind !== 'usd' || !this.events.has('threshold.crossed')) return
    const budget = meta.budget
    const fire = (kind: 'soft' | 'alert', fraction: number | null, threshold: number): void => {
      if (!(before < threshold && threshold <= after)) return
      this.emit('threshold.crossed', {
        scope,
        kind,
        fraction,
        threshold: nanoToUsd(threshold),
        spend: nanoToUsd(after),
        limit: limit === null ? null : nanoToUsd(limit),
        percent: limit === null || limit === 0 ? null : (after / limit) * 100,
        window: eventWindow(meta.window),
        callId,
      })
    }
    if (budget.policy.softNano !== null) fire('soft', null, budget.policy.softNano)
    if (limit !== null)
      for (const fraction of budget.policy.thresholds)
        fire('alert', fraction, Math.max(1, fractionOfNano(limit, fraction)))
  }

  private buildRecord(
    args: {
      callId: string
      context: CallContext
      startedAt: number
      priced: { nano: number; status: CallStatus; estimated: boolean; fields: Record<string, JsonValue> }
      modelRequested: string | undefined
      estimateNano: number | null
      guarded: boolean
    },
    now: number,
    costText: string,
  ): SpendRecord {
    const { context, priced } = args
    const ctx: Record<string, JsonValue> = {}
    if (context.user !== undefined) ctx.user = context.user
    if (context.team !== undefined) ctx.team = context.team
    if (context.org !== undefined) ctx.org = context.org
    if (context.key !== undefined) ctx.key = context.key
    if (context.endUser !== undefined) ctx.endUser = context.endUser
    if (context.tags !== undefined) ctx.tags = [...context.tags]
    if (context.deployment !== undefined) ctx.deployment = context.deployment
    const record: SpendRecord = {
      callId: args.callId,
      startedAt: args.startedAt,
      endedAt: Math.max(now, args.startedAt),
      model: args.modelRequested ?? null,
      modelServed: args.modelRequested ?? null,
      provider: context.provider ?? null,
      costNanoUsd: priced.nano,
      cost: costText,
      status: priced.status,
      estimated: priced.estimated,
      context: ctx,
    }
    const fields = priced.fields
    const names = Object.keys(fields)
    for (let i = 0; i < names.length; i++) record[names[i]!] = fields[names[i]!]!
    if (context.metadata !== undefined)
      record.metadata = {
        ...context.metadata,
        ...((priced.fields.metadata as Record<string, JsonValue> | undefined) ?? {}),
      }
    if (args.estimateNano !== null) record.estimateNanoUsd = args.estimateNano
    if (this.projectName !== null) record.project = this.projectName
    if (!args.guarded) record.guarded = false
    return record
  }

  /**
   * Records a call that was not reserved (spend that happened anyway, imports, batch jobs). It is never
   * refused; it can take a budget over its limit (reported as overshoot).
   *
   * @param usageOrCost A USD number, or `{ cost? | usage?, model?, provider?, status?, metadata? }`.
   * @throws InvalidInputError for bad input (nothing changed).
   */
  async record(context: CallContext, usageOrCost: CommitInput, options: ReserveOptions = {}): Promise<CommitOutcome> {
    const resolved = resolveContext(context)
    if (options.callId !== undefined) validateCallId(options.callId)
    if (usageOrCost === undefined)
      throw new InvalidInputError('usageOrCost', '`record` needs a USD number or `{ cost | usage, model }`')
    const model =
      typeof usageOrCost === 'object' && usageOrCost !== null && typeof usageOrCost.model === 'string'
        ? usageOrCost.model
        : undefined
    if (resolved.context.model === undefined && model !== undefined) {
      validateId('model', model)
      resolved.context.model = model
      const scope: Scope = { type: 'model', id: model }
      resolved.scopes.push(scope)
      resolved.keys.push(scopeKey(scope))
    }
    if (
      typeof usageOrCost === 'object' &&
      usageOrCost !== null &&
      usageOrCost.cost === undefined &&
      usageOrCost.usage === undefined &&
      usageOrCost.status !== 'cache_hit'
    ) {
      throw new InvalidInputError(
        'usageOrCost',
        '`record` needs `cost` or `usage` (there is no estimate to fall back on)',
      )
    }
    const priced = priceCommit(this.catalog, usageOrCost, {
      nano: 0,
      tokens: 0,
      model: resolved.context.model,
      provider: resolved.context.provider,
    })
    const now = this.clock.now()
    let budgets = this.cachedBudgets(resolved.keys, now)
    if (budgets === undefined) {
      try {
        budgets = await this.budgetsFor(resolved.scopes, resolved.keys, now)
      } catch (error) {
        if (isInputError(error)) throw error
        const storageError = asStorageError(error, this.store.name)
        this.emit('store.error', { operation: 'getBudget', action: 'lost', error: storageError })
        throw storageError
      }
    }
    const plan = this.plan(budgets, resolved.context, priced.nano, priced.tokens, now)
    return this.#writeCommit({
      callId: options.callId ?? this.nextCallId(),
      context: resolved.context,
      plan,
      startedAt: now,
      priced,
      modelRequested: resolved.context.model,
      estimateNano: null,
      guarded: true,
      tracked: trackedKeys(resolved.scopes),
    })
  }

  /** Releases a reservation's holds. */
  async #writeRelease(callId: string): Promise<void> {
    try {
      await this.store.release({ callId, now: this.clock.now() })
    } catch (error) {
      if (isInputError(error)) throw error
      const storageError = asStorageError(error, this.store.name)
      this.emit('store.error', { operation: 'release', action: 'lost', error: storageError, callId })
      throw storageError
    }
  }

  // ------------------------------------------------------------------------------------------------ scope methods

  private async writeBudget(
    scopeInput: ScopeInput,
    change: (
      current: StoredDefinition | null,
      now: number,
    ) => { next: StoredDefinition | null; action: HistoryEntry['action'] },
    reason: string | null,
  ): Promise<StoredBudget | null> {
    const scope = parseScope(scopeInput)
    const scopeString = scopeKey(scope)
    if (reason !== null && (typeof reason !== 'string' || reason.length > 1000))
      throw new InvalidInputError('reason', '`reason` must be a string of at most 1000 characters')
    for (let attempt = 0; attempt < MAX_OPTIMISTIC_RETRIES; attempt++) {
      const now = this.clock.now()
      let current: StoredBudget | null
      try {
        current = await this.store.getBudget(scopeString)
      } catch (error) {
        throw isInputError(error) ? error : asStorageError(error, this.store.name)
      }
      const currentDefinition = current === null ? null : fromStoredJson(current.definition, current.createdAt)
      const { next, action } = change(currentDefinition, now)
      if (next === null && current === null && action !== 'reset') return null
      const history: HistoryEntry = {
        scope: scopeString,
        action,
        at: now,
        old: currentDefinition === null ? null : (currentDefinition.definition as unknown as JsonValue),
        new: next === null ? null : (next.definition as unknown as JsonValue),
        reason,
      }
      if (action === 'increase' && next !== null) {
        const added = next.increases.at(-1)
        if (added !== undefined)
          history.new = {
            ...(next.definition as unknown as Record<string, JsonValue>),
            increase: added as unknown as JsonValue,
          }
      }
      let result
      try {
        result = await this.store.putBudget({
          scope: scopeString,
          definition: next === null ? null : toStoredJson(next),
          history,
          now,
          ifRevision: current?.revision ?? 0,
        })
      } catch (error) {
        throw isInputError(error) ? error : asStorageError(error, this.store.name)
      }
      if (result.ok) {
        this.invalidate(scopeString)
        this.emit('budget.changed', { scope: scopeString, action, reason })
        return result.budget
      }
    }
    throw new StorageError(this.store.name, `budget ${scopeString} kept changing concurrently; try again`, {
      retryable: true,
    })
  }

  /**
   * Picks a deployment whose budgets (provider, `deployment:<id>`, model, tags and the context's own scopes) admit
   * the call, and reserves it there: one atomic reservation per candidate, tried in the strategy's order, so
   * concurrent callers never overfill a deployment. Commit or release the returned reservation as usual.
   *
   * @example
   * ```ts
   * const { deployment, reservation } = await budgets.selectDeployment(
   *   [{ id: 'oai', model: 'gpt-4o', provider: 'openai' }, { id: 'claude', model: 'claude-3-5-sonnet-20241022', provider: 'anthropic' }],
   *   { context: { user: 'alice' }, estimate: { inputTokens: 1_000, maxOutputTokens: 500 } },
   * )
   * ```
   * @throws BudgetExceededError naming what refused each candidate when none fits; InvalidInputError for bad input.
   */
  selectDeployment(
    deployments: readonly Deployment[],
    options: SelectDeploymentOptions,
  ): Promise<{ deployment: Deployment; reservation: Reservation }> {
    return selectDeployment(routingHost<Reservation>(this, this.catalog ?? defaultCatalog), deployments, options)
  }

  /**
   * Sets provider budgets in LiteLLM's `provider_budget_config` shape, e.g.
   * `{ openai: { budget_limit: 1000, time_period: '30d' } }`. Each becomes a `provider:<name>` budget (windows, alerts,
   * history). The whole config is validated before anything is written.
   */
  async setProviderBudgets(config: ProviderBudgetConfig, options: { reason?: string } = {}): Promise<BudgetInfo[]> {
    const definitions = providerBudgetDefinitions(config)
    for (const { definition } of definitions) validateDefinition(definition)
    const written: BudgetInfo[] = []
    for (const { scope, definition } of definitions)
      written.push(await this.setBudget(scope, definition, { reason: options.reason ?? 'provider budget' }))
    return written
  }

  /**
   * Creates or replaces the budget of a scope. Spend to date is kept (a raised or lowered limit applies to
   * the current window's spend). Validated: a bad definition is a `BudgetConfigError` naming the field.
   *
   * @example
   * ```ts
   * await budgets.setBudget('user:alice', { maxBudget: 20, duration: 'monthly', modelMaxBudget: { 'gpt-4o': { maxBudget: 5 } } })
   * ```
   */
  async setBudget(
    scope: ScopeInput,
    definition: BudgetDefinition,
    options: { reason?: string } = {},
  ): Promise<BudgetInfo> {
    const parsedScope = parseScope(scope)
    const validated = validateDefinition(definition)
    // Compile once to refuse limits that cannot be held (e.g. a per-model limit above the maximum).
    this.compile(parsedScope, scopeKey(parsedScope), { definition: validated, anchor: 0, increases: [] }, 0, false)
    let previous: StoredDefinition | null = null
    const stored = await this.writeBudget(
      parsedScope,
      (current, now) => {
        previous = current
        return {
          next: {
            definition: validated,
            anchor: current?.anchor ?? now,
            increases: (current?.increases ?? []).filter((inc) => inc.until > now),
          },
          action: current === null ? 'create' : 'update',
        }
      },
      options.reason ?? null,
    )
    await this.carryOver(parsedScope, previous, stored!)
    return this.info(parsedScope, stored!)
  }

  /**
   * A budget whose window began before it was written (a calendar budget created mid-month, a changed duration)
   * counts the spend recorded earlier in that window: the scope's records from the window's start (or its last
   * reset) to the write are added to the new window's key once. Calls admitted before the budget existed and
   * committed after the write are not in either and are not counted in this window (at most the calls in flight).
   */
  private async carryOver(scope: Scope, previous: StoredDefinition | null, stored: StoredBudget): Promise<void> {
    const scopeString = scopeKey(scope)
    const budget = this.compile(
      scope,
      scopeString,
      fromStoredJson(stored.definition, stored.createdAt),
      stored.revision,
      false,
    )
    const now = this.clock.now()
    const window = this.mainWindow(budget, now)
    // Without a window the budget counts on the scope's all-time key, which already holds its spend.
    if (window === null || window.start >= stored.updatedAt) return
    const key = this.mainKey(budget)
    if (previous !== null) {
      const before = this.compile(scope, scopeString, previous, 0, false)
      this.mainWindow(before, now)
      if (this.mainKey(before) === key) return
    }
    const reset = await this.lastReset(scopeString)
    const from = Math.max(window.start, reset ?? window.start)
    // Up to and including the write's millisecond: a call admitted after the write and recorded within that same
    // millisecond would count twice, which needs a call shorter than a millisecond racing the write.
    const records = await this.spendRecords({ from, to: stored.updatedAt + 1, scope })
    let amount = 0
    for (const record of records) if (typeof record['costNanoUsd'] === 'number') amount += record['costNanoUsd']
    if (amount === 0) return
    const callId = `carry-${stored.revision}-${this.nextCallId()}`
    const expiresAt = window.end + this.holdTtlMs + KEY_GRACE_MS
    await this.storeCall(() =>
      this.store.commit({ callId, now, entries: [{ key, amount, expiresAt }], dedupeUntil: now + this.dedupeTtlMs }),
    )
  }

  private info(scope: Scope, stored: StoredBudget): BudgetInfo {
    const parsed = fromStoredJson(stored.definition, stored.createdAt)
    const now = this.clock.now()
    return {
      scope,
      definition: parsed.definition,
      increases: parsed.increases.filter((inc) => inc.until > now),
      revision: stored.revision,
      createdAt: new Date(stored.createdAt),
      updatedAt: new Date(stored.updatedAt),
    }
  }

  /** The stored budget of a scope (read from the store, not the cache), or `null`. Defaults are not stored budgets. */
  async getBudget(scope: ScopeInput): Promise<BudgetInfo | null> {
    const parsed = parseScope(scope)
    const stored = await this.storeCall(() => this.store.getBudget(scopeKey(parsed)))
    return stored === null ? null : this.info(parsed, stored)
  }

  /** Deletes the budget of a scope (kept in the history). Returns false when there was none. */
  async deleteBudget(scope: ScopeInput, options: { reason?: string } = {}): Promise<boolean> {
    let existed = false
    await this.writeBudget(
      scope,
      (current) => {
        existed = current !== null
        return { next: null, action: 'delete' }
      },
      options.reason ?? null,
    )
    return existed
  }

  /**
   * Raises a budget's limit temporarily: `amount` USD on top of `maxBudget` until `until`, then it expires by
   * itself. Kept in the history with its reason.
   */
  async increaseBudget(scope: ScopeInput, increase: IncreaseInput): Promise<BudgetInfo> {
    const parsed = parseScope(scope)
    if (typeof increase !== 'object' || increase === null)
      throw new InvalidInputError('increase', '`increaseBudget` takes `{ amount, until, reason? }`')
    const amountNano = usdInputToNano(increase.amount, 'amount')
    if (amountNano === 0) throw new InvalidInputError('amount', '`amount` must be greater than 0')
    const until = increase.until instanceof Date ? increase.until.getTime() : increase.until
    if (typeof until !== 'number' || !Number.isFinite(until))
      throw new InvalidInputError('until', '`until` must be a Date or epoch milliseconds')
    if (until <= this.clock.now()) throw new InvalidInputError('until', '`until` must be in the future')
    const stored = await this.writeBudget(
      parsed,
      (current, now) => {
        if (current === null || current.definition.maxBudget === undefined) {
          throw new InvalidInputError(
            'scope',
            `${scopeKey(parsed)} has no budget with a \`maxBudget\` to increase; create one with setBudget()`,
          )
        }
        const increases = [
          ...current.increases.filter((inc) => inc.until > now),
          { amount: increase.amount, until, reason: increase.reason ?? null, at: now },
        ]
        limitWithIncreases(
          usdToNano(current.definition.maxBudget, 'maxBudget'),
          increases.map((inc) => ({ amountNano: usdToNano(inc.amount, 'amount') })),
        )
        return { next: { ...current, increases }, action: 'increase' }
      },
      increase.reason ?? null,
    )
    return this.info(parsed, stored!)
  }

  /** Audit history of a scope's budget (create, update, increase, reset, delete), oldest first. */
  async getHistory(scope: ScopeInput): Promise<HistoryEntry[]> {
    const parsed = parseScope(scope)
    return this.storeCall(() => this.store.getHistory(scopeKey(parsed)))
  }

  private async storeCall<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      throw isInputError(error) ? error : asStorageError(error, this.store.name)
    }
  }

  /**
   * Spend, holds and limit of a scope in its current window.
   *
   * @throws InvalidInputError when the scope has no budget (stored or default).
   */
  async getStatus(scope: ScopeInput): Promise<BudgetStatus> {
    const parsed = parseScope(scope)
    const scopeString = scopeKey(parsed)
    const now = this.clock.now()
    const stored = await this.storeCall(() => this.store.getBudget(scopeString))
    const budget = this.fromStored(parsed, scopeString, stored)
    if (budget === null)
      throw new InvalidInputError(
        'scope',
        `${scopeString} has no budget; create one with setBudget('${scopeString.slice(0, 60)}', { maxBudget, duration })`,
      )
    return this.statusOf(budget, now)
  }

  private async statusOf(budget: CompiledBudget, now: number): Promise<BudgetStatus> {
    const window = this.mainWindow(budget, now)
    const key = this.mainKey(budget)
    const [balance] = await this.storeCall(() => this.store.balances({ keys: [key], now }))
    const spent = balance?.spent ?? 0
    const reserved = balance?.reserved ?? 0
    const limit = this.limitNano(budget, now)
    const remaining = limit === null ? null : Math.max(0, limit - spent - reserved)
    const forecast = forecastWindow({
      start: window?.start ?? null,
      end: window?.end ?? null,
      now,
      spentNano: spent,
      reservedNano: reserved,
      limitNano: limit,
    })
    return {
      scope: scopeOf(budget.scopeString),
      spend: nanoToUsd(spent),
      reserved: nanoToUsd(reserved),
      limit: limit === null ? null : nanoToUsd(limit),
      remaining: remaining === null ? null : nanoToUsd(remaining),
      percentUsed: limit === null ? null : limit === 0 ? (spent > 0 ? 100 : 0) : (spent / limit) * 100,
      windowStart: toDate(window?.start),
      resetsAt: toDate(window?.end),
      windowId: window === null ? 'all' : window.id,
      isDefault: budget.isDefault,
      projectedSpend: nanoToUsd(forecast.projectedNano),
      exhaustsAt: toDate(forecast.exhaustsAt),
      exact: {
        spend: formatNano(spent),
        reserved: formatNano(reserved),
        limit: limit === null ? null : formatNano(limit),
        remaining: remaining === null ? null : formatNano(remaining),
        projectedSpend: formatNano(forecast.projectedNano),
      },
    }
  }

  /**
   * Sets the spend of a scope to zero, in its current window and all-time (holds of calls in flight are kept), with a
   * history entry; the spend getters count from then on. Works for scopes without a budget too.
   */
  async resetScope(scope: ScopeInput, options: { reason?: string } = {}): Promise<void> {
    const parsed = parseScope(scope)
    const scopeString = scopeKey(parsed)
    const now = this.clock.now()
    const stored = await this.storeCall(() => this.store.getBudget(scopeString))
    const budget = this.fromStored(parsed, scopeString, stored)
    const keys: string[] = parsed.type === 'global' ? [] : [trackedKey(parsed)]
    if (budget !== null) {
      this.mainWindow(budget, now)
      keys.push(this.mainKey(budget))
      for (const model of budget.policy.models.values()) {
        const state = this.windowOf(budget, model.model, model.spec)
        this.currentWindow(state, now)
        keys.push(this.keyOf(state, 'usd'))
      }
    }
    const unique = [...new Set(keys)]
    if (unique.length > 0) await this.storeCall(() => this.store.reset({ keys: unique, now }))
    await this.writeBudget(parsed, (current) => ({ next: current, action: 'reset' }), options.reason ?? null)
  }

  /** When the scope's spend was last reset (`resetScope`, `resetCost`), epoch ms, or `null`. */
  private async lastReset(scopeString: string): Promise<number | null> {
    const history = await this.storeCall(() => this.store.getHistory(scopeString))
    for (let i = history.length - 1; i >= 0; i--) if (history[i]!.action === 'reset') return history[i]!.at
    return null
  }

  /**
   * Spend records aggregated exactly (sums of integer nano-USD), filtered by time, scope, model and tags and
   * grouped by `day`, `model`, `user`, `team`, ... See {@link SpendQuery}.
   */
  async querySpend(query: SpendQuery = {}): Promise<SpendReport> {
    const store = this.store
    return spendReport(query, {
      readRecords: (range) => this.storeCall(() => store.queryRecords(range)),
      readRollups: store.queryRollups === undefined ? undefined : (q) => this.storeCall(() => store.queryRollups!(q)),
    })
  }

  /** The spend records matching a query (same filters as {@link querySpend}), oldest first. */
  async spendRecords(query: SpendQuery = {}): Promise<SpendRecord[]> {
    const range: { from?: number; to?: number } = {}
    const from = query.from instanceof Date ? query.from.getTime() : query.from
    const to = query.to instanceof Date ? query.to.getTime() : query.to
    if (from !== undefined) range.from = from
    if (to !== undefined) range.to = to
    const records = await this.storeCall(() => this.store.queryRecords(range))
    return filterRecords(records, query)
  }

  // ------------------------------------------------------------------------------------------------ LiteLLM-compatible
  // A `user` argument is `'erin'` or `'user:erin'`; another scope type (`'team:x'`) is refused.

  /** LiteLLM `create_budget`: a budget for a user (`duration`: `daily`, `weekly`, `monthly`, `yearly` or `<n><unit>`). */
  createBudget(input: { user: string; totalBudget: number; duration?: Duration | undefined }): Promise<BudgetInfo> {
    return litellm.createBudget(this, input)
  }

  /** LiteLLM `update_cost`: records a call's cost for a user, from a response (`completionResponse`), a usage and model, or a known cost. */
  updateCost(input: UpdateCostInput): Promise<CommitOutcome> {
    return litellm.updateCost(this, input)
  }

  /**
   * LiteLLM `get_current_cost`: the user's spend, USD. With a budget (stored or from `defaults`), the spend in its
   * current window (a calendar budget created mid-window includes what was recorded earlier in that window);
   * without one, all-time spend (see `spendTrackingTtlMs`). Since the last `resetCost` either way.
   */
  getCurrentCost(user: string): Promise<number> {
    return litellm.getCurrentCost(this, user)
  }

  /** LiteLLM `get_total_budget`: the user's `maxBudget` in USD (0 when none). */
  getTotalBudget(user: string): Promise<number> {
    return litellm.getTotalBudget(this, user)
  }

  /** LiteLLM `get_model_cost`: the user's spend per served model (e.g. `gpt-4o-2024-08-06`), over the span of {@link getCurrentCost}. */
  getModelCost(user: string): Promise<Record<string, number>> {
    return litellm.getModelCost(this, user)
  }

  /** LiteLLM `is_valid_user`: true when the user has a stored budget. */
  isValidUser(user: string): Promise<boolean> {
    return litellm.isValidUser(this, user)
  }

  /** LiteLLM `get_users`: ids of users with a stored budget. */
  getUsers(): Promise<string[]> {
    return litellm.getUsers(this)
  }

  /** LiteLLM `projected_cost`: the user's current spend plus the input cost of `messages` (or `inputTokens`). */
  projectedCost(input: ProjectedCostInput): Promise<number> {
    return litellm.projectedCost(this, this.catalog, input)
  }

  /** LiteLLM `reset_cost`: the user's spend starts over now: window, all-time and per-model spend read 0. */
  resetCost(user: string): Promise<void> {
    return litellm.resetCost(this, user)
  }

  /**
   * LiteLLM `reset_on_duration`: applies elapsed windows. Windows here start from zero by themselves, so this only
   * reports whether the user's budget is in a window that began after its last change.
   */
  resetOnDuration(user: string): Promise<{ reset: boolean; resetsAt: Date | null }> {
    return litellm.resetOnDuration(this, user)
  }

  /** LiteLLM `update_budget_all_users`: applies elapsed windows for every user (automatic here; returns the users checked). */
  updateBudgetAllUsers(): Promise<string[]> {
    return litellm.getUsers(this)
  }

  /** LiteLLM `save_data`: every operation is already written to the store, so this only confirms it. */
  saveData(): Promise<{ status: 'success' }> {
    return Promise.resolve({ status: 'success' })
  }
}

export { MAX_NANO }
