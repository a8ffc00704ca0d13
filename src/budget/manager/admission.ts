/**
 * Admission: a call's estimate is priced, planned and reserved on every ledger key it touches in one atomic store
 * operation; a refusal becomes a `BudgetExceededError` or `RateLimitError` naming the budget, a budget with a
 * fallback model re-plans the call on it, a `warn` budget taken over its limit emits `budget.exceeded`, and a store
 * failure follows `onStoreError`. Internal to the manager.
 *
 * @packageDocumentation
 */
import { BudgetExceededError, InvalidInputError, RateLimitError, isBudgetExceededError } from '../../errors.js'
import { HeldReservation } from '../held-reservation.js'
import type { Estimate, Reservation, ReserveOptions } from '../manager-types.js'
import { nanoToUsd, usdInputToNano } from '../money.js'
import { type EstimateRequest, estimateRequest } from '../pricing.js'
import {
  type CallContext,
  type ResolvedContext,
  type Scope,
  type ScopeString,
  scopeKey,
  validateId,
} from '../scopes.js'
import { asStorageError, isInputError } from '../store-errors.js'
import { giveFlat, RESERVED, reserveResultOf, syncLedgerOf, takeFlat } from '../../stores/sync-ledger.js'
import type { ReserveResult } from '../../stores/types.js'
import { trackedKeys } from '../tracked-spend.js'
import { type CompiledBudget, type EntryMeta, type Plan, isMoney } from './compiled.js'
import type { ManagerContext } from './context.js'
import { callLabels, eventWindow, scopeOf, toDate } from './event-fields.js'
import { currencyOf, ensureRates, planAtRates } from './currency.js'
import { keptBudgets, memoPlan } from './plan-memo.js'

/** An estimate priced: worst-case nano-USD, tokens (for tpm limits) and the model it names. */
interface PricedEstimate {
  readonly nano: number
  readonly tokens: number
  readonly model: string | undefined
}

/** A caller's call id: an id of at most 120 characters (stores add their own prefixes within their 200). */
export function validateCallId(callId: string): void {
  validateId('callId', callId)
  if (callId.length > 120) throw new InvalidInputError('callId', '`callId` must be at most 120 characters')
}

/**
 * `reserve` with a context validated once (withBudget's static contexts). Changes nothing in `resolved` but the
 * `tracked` keys it caches. The reservation itself when every step was synchronous (see {@link admit}), else a
 * promise of it; a refusal or bad input may be thrown.
 */
export function reserveResolved(
  ctx: ManagerContext,
  resolved: ResolvedContext,
  estimate: Estimate,
  options: ReserveOptions = {},
): Reservation | Promise<Reservation> {
  if (options.callId !== undefined) {
    validateCallId(options.callId)
  }
  const priced = priceEstimate(ctx, estimate)
  let { context, scopes, keys } = resolved
  let tracked: readonly string[] | undefined
  let holder: ResolvedContext | undefined
  if (typeof estimate === 'object' && context.model === undefined && priced.model !== undefined) {
    validateId('estimate.model', priced.model)
    context = { ...context, model: priced.model }
    const scope: Scope = { type: 'model', id: priced.model }
    scopes = [...scopes, scope]
    keys = [...keys, scopeKey(scope)]
  } else {
    tracked = resolved.tracked ??= trackedKeys(scopes)
    holder = resolved
  }
  const callId = options.callId ?? ctx.nextCallId()
  if (options.allowFallback !== undefined && typeof options.allowFallback !== 'boolean')
    throw new InvalidInputError('allowFallback', '`allowFallback` must be a boolean')
  return admit(ctx, context, scopes, keys, priced, callId, estimate, options.allowFallback ?? true, tracked, holder)
}

/** The last USD estimate priced and its pricing (a wrapper with a fixed estimate passes the same number each call). */
let lastUsd = Number.NaN
let lastPricedUsd: PricedEstimate = { nano: 0, tokens: 0, model: undefined }

function priceEstimate(ctx: ManagerContext, estimate: unknown): PricedEstimate {
  if (typeof estimate === 'number') {
    // A priced estimate is never changed, so one object serves every call with that number.
    if (estimate === lastUsd) return lastPricedUsd
    const priced = { nano: usdInputToNano(estimate, 'estimate'), tokens: 0, model: undefined }
    lastUsd = estimate
    lastPricedUsd = priced
    return priced
  }
  if (typeof estimate === 'object' && estimate !== null && !Array.isArray(estimate)) {
    const priced = estimateRequest(ctx.catalog, estimate as EstimateRequest)
    return priced
  }
  throw new InvalidInputError(
    'estimate',
    `\`estimate\` must be a USD number or { model, inputTokens | messages, maxOutputTokens }, got ${estimate === null ? 'null' : typeof estimate}`,
  )
}

/** The reservation of an admitted call (or of an unguarded one, after a store failure with `onStoreError: 'allow'`). */
function held(ctx: ManagerContext, call: Admission, now: number, plan: Plan, guarded: boolean): Reservation {
  const { context, priced } = call
  return new HeldReservation(
    ctx.writer,
    call.callId,
    context,
    priced.nano,
    priced.tokens,
    priced.model ?? context.model,
    now,
    now + ctx.holdTtlMs,
    plan,
    guarded,
    !guarded,
    call.tracked,
  )
}

/** One admission: the call and what it reserves, carried through the steps below. */
interface Admission {
  context: CallContext
  scopes: Scope[]
  keys: ScopeString[]
  priced: PricedEstimate
  callId: string
  estimate: Estimate
  allowFallback: boolean
  tracked: readonly string[]
  /** The resolved context the call's `context` is, whose plan can be kept (`plan-memo.ts`). */
  holder: ResolvedContext | undefined
}

/**
 * Admits a call. Against a store with a synchronous side door (the memory store), with its budgets cached and no
 * exchange rate to pin, every step runs without a promise and the reservation (or the refusal, thrown) comes back
 * at once; otherwise a promise of it.
 */
function admit(
  ctx: ManagerContext,
  context: CallContext,
  scopes: Scope[],
  keys: ScopeString[],
  priced: PricedEstimate,
  callId: string,
  estimate: Estimate,
  allowFallback: boolean,
  trackedOfScopes: readonly string[] | undefined,
  holder?: ResolvedContext,
): Reservation | Promise<Reservation> {
  const call: Admission = {
    context,
    scopes,
    keys,
    priced,
    callId,
    estimate,
    allowFallback,
    tracked: trackedOfScopes ?? trackedKeys(scopes),
    holder,
  }
  // The `providerBudgets` option is written before the first use, and before the call's time is taken.
  if (ctx.providerBudgets !== undefined && !ctx.providerBudgets.applied) return admitLater(ctx, call)
  const now = ctx.clock.now()
  // A kept plan's budgets come back as they are when they are still the budgets (no new array per call).
  const budgets = ctx.budgets.cached(keys, now, keptBudgets(holder))
  if (budgets === undefined) return admitLater(ctx, call, now)
  return withBudgets(ctx, call, budgets, now)
}

/** {@link admit} once the provider budgets are written and the budgets read from the store. */
async function admitLater(ctx: ManagerContext, call: Admission, at?: number): Promise<Reservation> {
  let now = at
  if (now === undefined) {
    if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
    now = ctx.clock.now()
  }
  // With `at`, admit has just looked in the cache at that instant and missed.
  let budgets = at === undefined ? ctx.budgets.cached(call.keys, now) : undefined
  if (budgets === undefined) {
    try {
      budgets = await ctx.budgets.budgetsFor(call.scopes, call.keys, now)
    } catch (error) {
      if (isInputError(error)) throw error
      return storeFailure(ctx, 'getBudget', error, call, now)
    }
  }
  return withBudgets(ctx, call, budgets, now)
}

/** {@link admit} with the budgets of the call's scopes: pins exchange rates if needed, plans and reserves. */
function withBudgets(
  ctx: ManagerContext,
  call: Admission,
  budgets: readonly (CompiledBudget | null)[],
  now: number,
): Reservation | Promise<Reservation> {
  // The exchange rate of each window of a budget in another currency (pinned once per window); on failure nothing
  // is reserved.
  const pinning = ensureRates(ctx, budgets, now)
  if (pinning !== undefined) {
    return pinning.then(
      () => reserveOn(ctx, call, budgets, now),
      (error: unknown) => {
        if (isInputError(error)) throw error
        return storeFailure(ctx, 'pinRate', error, call, now)
      },
    )
  }
  return reserveOn(ctx, call, budgets, now)
}

/** Plans the call and reserves it in one store operation (synchronous through the store's side door). */
function reserveOn(
  ctx: ManagerContext,
  call: Admission,
  budgets: readonly (CompiledBudget | null)[],
  now: number,
): Reservation | Promise<Reservation> {
  const { priced, holder } = call
  const plan =
    holder === undefined
      ? planAtRates(ctx, budgets, call.context, priced.nano, priced.tokens, now)
      : memoPlan(ctx, holder, budgets, priced.nano, priced.tokens, now)
  const holdExpiresAt = now + ctx.holdTtlMs
  if (plan.entries.length === 0) return held(ctx, call, now, plan, true)
  const request = { callId: call.callId, now, holdExpiresAt, entries: plan.entries }
  const sync = syncLedgerOf(ctx.store)
  if (sync !== undefined) {
    // The balances come back flat, in a spare array when one is free (a listener's call finds none).
    const n = plan.entries.length
    const flat = takeFlat(2 * n)
    let answer: number
    let result: ReserveResult | undefined
    try {
      answer = sync.reserve(request, flat, ctx.idPrefixOf(call.callId))
      // Admitted, and no `warn` budget to report on: the balances are not needed.
      if (answer !== RESERVED || ctx.events.has('budget.exceeded')) result = reserveResultOf(answer, flat, n)
    } catch (error) {
      return reserveFailed(ctx, call, now, holdExpiresAt, error)
    } finally {
      giveFlat(flat)
    }
    return result === undefined ? held(ctx, call, now, plan, true) : reserved(ctx, call, plan, now, result)
  }
  let pending: Promise<ReserveResult>
  try {
    pending = ctx.store.reserve(request)
  } catch (error) {
    // A store that throws instead of rejecting.
    return reserveFailed(ctx, call, now, holdExpiresAt, error)
  }
  return pending.then(
    (result) => reserved(ctx, call, plan, now, result),
    (error: unknown) => reserveFailed(ctx, call, now, holdExpiresAt, error),
  )
}

/** A store that failed to reserve. */
async function reserveFailed(
  ctx: ManagerContext,
  call: Admission,
  now: number,
  holdExpiresAt: number,
  error: unknown,
): Promise<Reservation> {
  if (isInputError(error)) throw error
  // The store may have applied the reservation before it failed (a timeout after the request was sent): release
  // the call id, best effort, so its holds (or a late arrival, which the store then ignores) count for nothing.
  await ctx.store.release({ callId: call.callId, now: ctx.clock.now(), holdExpiresAt }).catch(() => undefined)
  return storeFailure(ctx, 'reserve', error, call, now)
}

/** The store's answer: the reservation, or the refusal (a fallback model re-planned and re-reserved). */
function reserved(
  ctx: ManagerContext,
  call: Admission,
  plan: Plan,
  now: number,
  result: ReserveResult,
): Reservation | Promise<Reservation> {
  const { context, callId, estimate, allowFallback } = call
  if (!result.ok) {
    const meta = plan.meta[result.refusedIndex]!
    const balance = result.balances[result.refusedIndex] ?? { spent: 0, reserved: 0 }
    const requested = plan.entries[result.refusedIndex]!.amount
    const refusal = refusalOf(ctx, meta, balance, requested, now)
    const onExceeded = meta.budget.policy.onExceeded
    if (isBudgetExceededError(refusal)) {
      const fallback = typeof onExceeded === 'object' ? onExceeded.fallbackModel : undefined
      ctx.events.emit('budget.exceeded', {
        ...currencyOf(meta.budget),
        scope: meta.budget.scopeString,
        ...(meta.model === undefined ? {} : { model: meta.model.model }),
        ...(meta.burst === undefined ? {} : { burst: meta.burst.duration }),
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
        const fallbackPriced = priceEstimate(ctx, fallbackEstimate)
        const fallbackContext: CallContext = { ...context, model: fallback }
        const fallbackScopes = call.scopes.map((s) =>
          s.type === 'model' ? { type: 'model' as const, id: fallback } : s,
        )
        return admit(
          ctx,
          fallbackContext,
          fallbackScopes,
          fallbackScopes.map(scopeKey),
          fallbackPriced,
          callId,
          fallbackEstimate,
          false,
          undefined,
        )
      }
    }
    throw refusal
  }
  if (!result.duplicate) warnOver(ctx, plan, result.balances, callId, context)
  return held(ctx, call, now, plan, true)
}

/** The error of a refused entry: `RateLimitError` for rpm, tpm and parallel limits, else `BudgetExceededError`. */
function refusalOf(
  ctx: ManagerContext,
  meta: EntryMeta,
  balance: { spent: number; reserved: number },
  requested: number,
  now: number,
): BudgetExceededError | RateLimitError {
  const scope = scopeOf(meta.budget.scopeString)
  const limit = meta.limit ?? 0
  if (meta.kind === 'rpm' || meta.kind === 'tpm' || meta.kind === 'par') {
    const retryAfterMs =
      meta.kind === 'par' ? Math.min(1000, ctx.holdTtlMs) : Math.max(0, (meta.window?.end ?? now) - now)
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
  return new BudgetExceededError({
    ...details,
    ...(meta.model === undefined ? {} : { model: meta.model.model }),
    ...currencyOf(meta.budget),
  })
}

/** Emits `budget.exceeded` with `action: 'warn'` for `warn` budgets that the reservation took over their limit. */
function warnOver(
  ctx: ManagerContext,
  plan: Plan,
  balances: readonly { spent: number; reserved: number }[],
  callId: string,
  context: CallContext,
): void {
  if (!ctx.events.has('budget.exceeded')) return
  for (let i = 0; i < plan.meta.length; i++) {
    const meta = plan.meta[i]!
    if (meta.limit !== null || meta.softLimit === null || !isMoney(meta.kind)) continue
    const balance = balances[i]
    if (balance === undefined || balance.spent + balance.reserved <= meta.softLimit) continue
    ctx.events.emit('budget.exceeded', {
      ...currencyOf(meta.budget),
      scope: meta.budget.scopeString,
      ...(meta.model === undefined ? {} : { model: meta.model.model }),
      ...(meta.burst === undefined ? {} : { burst: meta.burst.duration }),
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

/** A store failure during admission: `StorageError` with `onStoreError: 'deny'`, an unguarded reservation with `allow`. */
function storeFailure(
  ctx: ManagerContext,
  operation: string,
  error: unknown,
  call: Admission,
  now: number,
): Reservation {
  const storageError = asStorageError(error, ctx.store.name)
  ctx.events.emit('store.error', { operation, action: ctx.onStoreError, error: storageError, callId: call.callId })
  if (ctx.onStoreError === 'deny') throw storageError
  return held(ctx, call, now, { entries: [], meta: [] }, false)
}
