/**
 * The error hierarchy of llm-budget. Every error the library throws on purpose is a {@link BudgetError}
 * with a stable `code`; the guards (`isBudgetError`, ...) work across duplicated copies of the package
 * because they look for a `Symbol.for` marker rather than using `instanceof`.
 *
 * Messages say what happened, with the values, and what to do about it.
 *
 * @packageDocumentation
 */

import { truncate } from './internal/describe.js'
import { formatMoney } from './internal/format-money.js'

const MARKER = Symbol.for('llm-budget.error')

/** Stable machine-readable codes, one per error class. */
export type BudgetErrorCode =
  'BUDGET_EXCEEDED' | 'RATE_LIMITED' | 'UNKNOWN_MODEL' | 'BUDGET_CONFIG' | 'INVALID_INPUT' | 'STORAGE' | 'MISSING_USAGE'

/** Base class of every error llm-budget throws on purpose. */
export class BudgetError extends Error {
  /** Stable code for programmatic handling. */
  readonly code: BudgetErrorCode
  override readonly name: string = 'BudgetError'
  /** @internal marker used by {@link isBudgetError} across package copies. */
  readonly [MARKER] = true

  constructor(code: BudgetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

/** Scope in the `{ type, id }` form, as carried by errors. */
export interface ScopeRef {
  type: string
  id: string
}

/** Fields of a {@link BudgetExceededError}. */
export interface BudgetExceededDetails {
  /** The scope whose budget refused the call. */
  scope: ScopeRef
  /** The ledger key that refused (scope, window, unit), for diagnostics. */
  key?: string
  /** Window name, e.g. `monthly`, `1h`, or `none`. */
  window?: string
  /** Limit in USD. */
  limit: number
  /** Committed spend in the window, USD. */
  spent: number
  /** Amount held by in-flight calls, USD. */
  reserved: number
  /** What this call asked to reserve, USD. */
  requested: number
  /** When the window resets, or `null` for a budget without a window. */
  resetsAt: Date | null
  /** Milliseconds until the window resets, or `null`. */
  retryAfterMs: number | null
  /** The model limit that refused, when a per-model budget did. */
  model?: string
  /** When routing found no deployment: what refused each candidate, in the order they were tried. */
  refusals?: readonly DeploymentRefusal[]
  /** The budget's currency (ISO 4217), when it is not USD; the message shows amounts in it, with USD alongside. */
  currency?: string
  /** USD per one unit of `currency` pinned for the budget's window, when `currency` is set. */
  rate?: number
}

/** Why routing did not choose one deployment. */
export interface DeploymentRefusal {
  /** The deployment's id. */
  deployment: string
  /** The scope whose budget or rate limit refused it. */
  scope: ScopeRef
  /** The refusal's message. */
  message: string
}

function usdText(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (n !== 0 && Math.abs(n) < 0.01) return `$${n.toPrecision(2)}`
  return `$${n.toFixed(2)}`
}

/** A hard budget cannot admit a call. Raised before the wrapped function runs. */
export class BudgetExceededError extends BudgetError implements BudgetExceededDetails {
  override readonly name = 'BudgetExceededError'
  readonly scope: ScopeRef
  readonly key?: string
  readonly window?: string
  readonly limit: number
  readonly spent: number
  readonly reserved: number
  readonly requested: number
  readonly resetsAt: Date | null
  readonly retryAfterMs: number | null
  readonly model?: string
  readonly refusals?: readonly DeploymentRefusal[]
  readonly currency?: string
  readonly rate?: number

  constructor(details: BudgetExceededDetails, options?: { cause?: unknown }) {
    const remaining = Math.max(0, details.limit - details.spent - details.reserved)
    const { currency, rate } = details
    const usd = currency === undefined || rate === undefined ? usdText : (n: number) => inCurrency(n, currency, rate)
    const where = `${details.scope.type}:${details.scope.id}${details.model ? ` model ${details.model}` : ''}`
    const window = details.window && details.window !== 'none' ? ` (${details.window})` : ''
    const reset = details.resetsAt
      ? `; resets ${details.resetsAt.toISOString().replace('.000Z', 'Z')}`
      : '; the budget has no reset window'
    const routing = details.refusals
      ? `No deployment can take this call (${details.refusals.map((r) => `${r.deployment}: ${r.scope.type}:${r.scope.id}`).join('; ')}). `
      : ''
    super(
      'BUDGET_EXCEEDED',
      `${routing}Budget exceeded for ${where}${window}: requested ${usd(details.requested)}, remaining ${usd(remaining)} of ${usd(details.limit)}${reset}. Raise the limit with increaseBudget()/setBudget() or wait for the reset.`,
      options,
    )
    this.scope = details.scope
    if (details.key !== undefined) this.key = details.key
    if (details.window !== undefined) this.window = details.window
    this.limit = details.limit
    this.spent = details.spent
    this.reserved = details.reserved
    this.requested = details.requested
    this.resetsAt = details.resetsAt
    this.retryAfterMs = details.retryAfterMs
    if (details.model !== undefined) this.model = details.model
    if (details.refusals !== undefined) this.refusals = details.refusals
    if (currency !== undefined && rate !== undefined) {
      this.currency = currency
      this.rate = rate
    }
  }
}

/** A USD amount in another currency at `rate` USD per unit, with the USD alongside: `€92.59 ($100.00)`. */
function inCurrency(n: number, currency: string, rate: number): string {
  if (!Number.isFinite(n) || !(rate > 0)) return usdText(n)
  return `${formatMoney(n / rate, currency)} (${formatMoney(n, 'USD')})`
}

/** Fields of a {@link RateLimitError}. */
export interface RateLimitDetails {
  scope: ScopeRef
  /** Which limit: requests per minute, tokens per minute or parallel requests. */
  limitType: 'rpm' | 'tpm' | 'parallel'
  limit: number
  current: number
  requested: number
  /** When it is worth trying again, in milliseconds. */
  retryAfterMs: number
}

/** An `rpmLimit`, `tpmLimit` or `maxParallelRequests` refused the call. */
export class RateLimitError extends BudgetError implements RateLimitDetails {
  override readonly name = 'RateLimitError'
  readonly scope: ScopeRef
  readonly limitType: 'rpm' | 'tpm' | 'parallel'
  readonly limit: number
  readonly current: number
  readonly requested: number
  readonly retryAfterMs: number

  constructor(details: RateLimitDetails) {
    const what = { rpm: 'requests per minute', tpm: 'tokens per minute', parallel: 'parallel requests' }[
      details.limitType
    ]
    super(
      'RATE_LIMITED',
      `Rate limit reached for ${details.scope.type}:${details.scope.id}: ${details.current} of ${details.limit} ${what} in use, this call needs ${details.requested}; retry in ${details.retryAfterMs} ms.`,
    )
    this.scope = details.scope
    this.limitType = details.limitType
    this.limit = details.limit
    this.current = details.current
    this.requested = details.requested
    this.retryAfterMs = details.retryAfterMs
  }
}

/** The price catalog has no entry for a model. Never priced as $0 silently. */
export class UnknownModelError extends BudgetError {
  override readonly name = 'UnknownModelError'
  /** The model name as given. */
  readonly model: string
  /** The provider hint, if any. */
  readonly provider: string | undefined
  /** Catalog keys tried, in order. */
  readonly tried: readonly string[]
  /** Closest known model names. */
  readonly suggestions: readonly string[]

  /**
   * @param details The model, provider hint, keys tried and suggestions; `message` replaces the default text
   *   (used when the model is known but has no price for the usage). Every quoted name is cut to a bounded length.
   */
  constructor(details: {
    model: string
    provider?: string | undefined
    tried: readonly string[]
    suggestions: readonly string[]
    message?: string | undefined
  }) {
    super('UNKNOWN_MODEL', details.message ?? unknownModelMessage(details))
    this.model = details.model
    this.provider = details.provider
    this.tried = details.tried
    this.suggestions = details.suggestions
  }
}

/** Default message of {@link UnknownModelError}: quotes a bounded number of characters of each name and 10 names. */
function unknownModelMessage(details: {
  model: string
  provider?: string | undefined
  tried: readonly string[]
  suggestions: readonly string[]
}): string {
  const quote = (name: string): string => `\`${truncate(String(name))}\``
  const list = (names: readonly string[]): string =>
    names.slice(0, 10).map(quote).join(', ') + (names.length > 10 ? `, and ${names.length - 10} more` : '')
  const hint = details.suggestions.length > 0 ? ` Did you mean ${list(details.suggestions)}?` : ''
  const provider = details.provider ? ` (provider ${truncate(String(details.provider))})` : ''
  return `No price is known for model ${quote(details.model)}${provider}; tried ${list(details.tried)}.${hint} Register a price with catalog.register(), add an alias, or pass \`prices\`.`
}

/** Bad input to a function or endpoint: names the field and says how to fix it. Nothing was changed. */
export class InvalidInputError extends BudgetError {
  override readonly name: string = 'InvalidInputError'
  /** Dotted path of the offending field, e.g. `usage.inputTokens`. */
  readonly field: string

  constructor(field: string, message: string, options?: { cause?: unknown; code?: BudgetErrorCode }) {
    super(options?.code ?? 'INVALID_INPUT', message, options)
    this.field = field
  }
}

/** A budget definition or option is invalid. Names the field and the fix. */
export class BudgetConfigError extends InvalidInputError {
  override readonly name = 'BudgetConfigError'

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super(field, message, { ...options, code: 'BUDGET_CONFIG' })
  }
}

/** A response carried no usage where usage was required; by policy this is an error, not $0. */
export class MissingUsageError extends BudgetError {
  override readonly name = 'MissingUsageError'
  constructor(message: string, options?: { cause?: unknown }) {
    super('MISSING_USAGE', message, options)
  }
}

/** The store could not answer (I/O error, network, timeout). `cause` holds the original error. */
export class StorageError extends BudgetError {
  override readonly name = 'StorageError'
  /** Which store failed, e.g. `redis`, `file`, `http`. */
  readonly store: string
  /** True when the operation may be retried safely (it is idempotent by call id). */
  readonly retryable: boolean

  constructor(store: string, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super('STORAGE', `${store} store: ${message}`, options)
    this.store = store
    this.retryable = options?.retryable ?? true
  }
}

function hasMarker(value: unknown): value is BudgetError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true
}

/** True for any llm-budget error, also from another copy of the package. */
export function isBudgetError(value: unknown): value is BudgetError {
  return hasMarker(value)
}

/** True for a {@link BudgetExceededError}, also from another copy of the package. */
export function isBudgetExceededError(value: unknown): value is BudgetExceededError {
  return hasMarker(value) && value.code === 'BUDGET_EXCEEDED'
}

/** True for a {@link RateLimitError}, also from another copy of the package. */
export function isRateLimitError(value: unknown): value is RateLimitError {
  return hasMarker(value) && value.code === 'RATE_LIMITED'
}

/** True for an {@link UnknownModelError}, also from another copy of the package. */
export function isUnknownModelError(value: unknown): value is UnknownModelError {
  return hasMarker(value) && value.code === 'UNKNOWN_MODEL'
}

/** True for a {@link StorageError}, also from another copy of the package. */
export function isStorageError(value: unknown): value is StorageError {
  return hasMarker(value) && value.code === 'STORAGE'
}
