/**
 * Commit: the actual cost of a call goes to the store on every key it was planned on (holds removed, spend added,
 * idempotent by call id) plus the all-time keys of the scopes it names, with its spend record; then the crossings
 * and `spend.recorded`. Also `record()` (spend without a reservation) and the release of a reservation's holds.
 * Internal to the manager.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../../errors.js'
import { giveFlat, syncLedgerOf, takeFlat } from '../../stores/sync-ledger.js'
import type { CommitEntry, CommitResult, SpendRecord } from '../../stores/types.js'
import { priceCommit } from '../commit-pricing.js'
import type { CommitWrite } from '../held-reservation.js'
import type { CommitInput, CommitOutcome, Overshoot, ReserveOptions } from '../manager-types.js'
import { formatNano, nanoToUsd } from '../money.js'
import { type CallContext, type Scope, resolveContext, scopeKey, validateId } from '../scopes.js'
import { asStorageError, isInputError } from '../store-errors.js'
import { trackedKeys } from '../tracked-spend.js'
import { validateCallId } from './admission.js'
import { buildRecord, tailTokenOf } from './commit-record.js'
import { type CommitKeys, type Plan, isMoney } from './compiled.js'
import type { ManagerContext } from './context.js'
import { checkCrossings, checkForecast } from './crossings.js'
import { ensureRates, planAtRates } from './currency.js'

/**
 * Writes a commit for a reservation or a direct record: the outcome itself when the store wrote it synchronously
 * (its side door, see `stores/sync-ledger.ts`), else a promise of it. A failure may be thrown.
 */
export function writeCommit(ctx: ManagerContext, args: CommitWrite<Plan>): CommitOutcome | Promise<CommitOutcome> {
  const { callId, plan, priced } = args
  const now = ctx.clock.now()
  const keys = commitKeysOf(plan, args.tracked)
  const sync = syncLedgerOf(ctx.store)
  const extra = priced.nano > 0 ? keys.extra : NO_KEYS
  const count = keys.planned + extra.length
  // The side door reads the entries before it returns and keeps none of them, and no caller code runs between
  // filling them and that read: a synchronous commit rewrites the plan's own entries instead of making new ones.
  let entries: CommitEntry[]
  if (sync !== undefined && extra === keys.extra) entries = keys.scratch ??= scratchEntries(count)
  else entries = new Array<CommitEntry>(count)
  const trackedUntil = ctx.spendTrackingTtlMs === null ? null : now + ctx.spendTrackingTtlMs
  let n = 0
  for (let i = 0; i < plan.meta.length; i++) {
    const meta = plan.meta[i]!
    if (meta.kind === 'par') continue
    const amount = meta.kind === 'rpm' ? 1 : meta.kind === 'tpm' ? priced.tokens : priced.nano
    setEntry(entries, n++, meta.key, amount, meta.expiresAt)
  }
  for (let i = 0; i < extra.length; i++) setEntry(entries, n++, extra[i]!, priced.nano, trackedUntil)
  const costText = formatNano(priced.nano)
  const record = buildRecord(args, now, costText, ctx.projectName)
  // The exchange rates of budgets in another currency that this call counted against.
  if (plan.rates !== undefined) Object.assign(record, plan.rates)
  const request = { callId, now, entries, dedupeUntil: now + ctx.dedupeTtlMs, record }
  if (sync !== undefined) {
    // The balances come back flat, in a spare array when one is free (a listener's commit inside `committed`
    // finds none and makes its own).
    const flat = takeFlat(3 * count)
    try {
      let duplicate: boolean
      try {
        // The record is the one just built (unless rates were added to it): its tail token lets the store skip
        // comparing its fields with the record before.
        duplicate = sync.commit(request, flat, plan.rates === undefined ? tailTokenOf(record) : undefined)
      } catch (error) {
        throw commitFailure(ctx, error, callId)
      }
      return committed(ctx, args, now, costText, record, duplicate, flat, count)
    } finally {
      giveFlat(flat)
    }
  }
  let pending: Promise<CommitResult>
  try {
    pending = ctx.store.commit(request)
  } catch (error) {
    // A store that throws instead of rejecting.
    return Promise.reject(commitFailure(ctx, error, callId))
  }
  return pending.then(
    (result) => committed(ctx, args, now, costText, record, result.duplicate, ...flatBalances(result)),
    (error: unknown) => {
      throw commitFailure(ctx, error, callId)
    },
  )
}

const NO_KEYS: readonly string[] = []

/** A store's commit balances, flat (see `SyncLedger.commit`), and how many there are. */
function flatBalances(result: CommitResult): [Float64Array, number] {
  const balances = result.balances
  const flat = new Float64Array(3 * balances.length)
  for (let i = 0; i < balances.length; i++) {
    const balance = balances[i]!
    flat[3 * i] = balance.before
    flat[3 * i + 1] = balance.after
    flat[3 * i + 2] = balance.reserved
  }
  return [flat, balances.length]
}

/** Entries to be filled by {@link setEntry}. */
function scratchEntries(count: number): CommitEntry[] {
  const entries: CommitEntry[] = new Array<CommitEntry>(count)
  for (let i = 0; i < count; i++) entries[i] = { key: '', amount: 0, expiresAt: null }
  return entries
}

/** Entry `i` of `entries`: the one there rewritten (scratch entries), else a new one. */
function setEntry(entries: CommitEntry[], i: number, key: string, amount: number, expiresAt: number | null): void {
  const entry = entries[i]
  if (entry === undefined) entries[i] = { key, amount, expiresAt }
  else {
    entry.key = key
    entry.amount = amount
    entry.expiresAt = expiresAt
  }
}

/** The keys a commit of `plan` writes, worked out once per plan (a kept plan is committed many times). */
function commitKeysOf(plan: Plan, tracked: readonly string[]): CommitKeys {
  const known = plan.commitKeys
  if (known !== undefined && known.tracked === tracked) return known
  let planned = 0
  for (let i = 0; i < plan.meta.length; i++) if (plan.meta[i]!.kind !== 'par') planned++
  const extra: string[] = []
  for (const key of tracked) {
    // A budget without a window counts on the same all-time key already.
    let counted = false
    for (let i = 0; i < plan.meta.length && !counted; i++)
      counted = plan.meta[i]!.kind !== 'par' && plan.meta[i]!.key === key
    if (!counted && !extra.includes(key)) extra.push(key)
  }
  const keys: CommitKeys = { tracked, extra, planned, scratch: undefined }
  plan.commitKeys = keys
  return keys
}

/** What a failed commit throws: a bad request as it is, anything else as a `StorageError` (also emitted). */
function commitFailure(ctx: ManagerContext, error: unknown, callId: string): unknown {
  if (isInputError(error)) return error
  const storageError = asStorageError(error, ctx.store.name)
  ctx.events.emit('store.error', { operation: 'commit', action: 'lost', error: storageError, callId })
  return storageError
}

/** The outcome of a written commit: crossings, forecast and `spend.recorded` checked (once, not for a duplicate). */
function committed(
  ctx: ManagerContext,
  args: CommitWrite<Plan>,
  now: number,
  costText: string,
  record: SpendRecord,
  duplicate: boolean,
  balances: Float64Array,
  count: number,
): CommitOutcome {
  const { callId, plan, priced } = args
  const overshoot: Overshoot[] = []
  const cost = nanoToUsd(priced.nano)
  if (!duplicate) {
    // `balances` follow `entries`, which skip the `par` metas: before, after and reserved of each.
    for (let i = 0, j = 0; i < plan.meta.length; i++) {
      const meta = plan.meta[i]!
      if (meta.kind === 'par') continue
      const at = 3 * j++
      if (j > count || !isMoney(meta.kind)) continue
      const before = balances[at]!
      const after = balances[at + 1]!
      checkCrossings(ctx, meta, before, after, callId, now, overshoot)
      checkForecast(ctx, meta, before, after, balances[at + 2]!, callId, now)
    }
    if (ctx.events.has('spend.recorded'))
      ctx.events.emit('spend.recorded', { record, cost, estimated: priced.estimated })
  }
  return {
    callId,
    duplicate,
    cost,
    exact: { cost: costText },
    costNanoUsd: priced.nano,
    estimated: priced.estimated,
    status: priced.status,
    overshoot,
    record: duplicate ? null : record,
  }
}

/** Releases a reservation's holds. */
export async function writeRelease(ctx: ManagerContext, callId: string): Promise<void> {
  try {
    await ctx.store.release({ callId, now: ctx.clock.now() })
  } catch (error) {
    if (isInputError(error)) throw error
    const storageError = asStorageError(error, ctx.store.name)
    ctx.events.emit('store.error', { operation: 'release', action: 'lost', error: storageError, callId })
    throw storageError
  }
}

/** `manager.record()`: commits a call that was not reserved, on the budgets of its context at their current windows. */
export async function recordCall(
  ctx: ManagerContext,
  context: CallContext,
  usageOrCost: CommitInput,
  options: ReserveOptions,
): Promise<CommitOutcome> {
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
  const priced = priceCommit(ctx.catalog, usageOrCost, {
    nano: 0,
    tokens: 0,
    model: resolved.context.model,
    provider: resolved.context.provider,
  })
  // The `providerBudgets` option is written before the first use, and before the call's time is taken.
  if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
  const now = ctx.clock.now()
  let budgets = ctx.budgets.cached(resolved.keys, now)
  if (budgets === undefined) {
    try {
      budgets = await ctx.budgets.budgetsFor(resolved.scopes, resolved.keys, now)
    } catch (error) {
      if (isInputError(error)) throw error
      const storageError = asStorageError(error, ctx.store.name)
      ctx.events.emit('store.error', { operation: 'getBudget', action: 'lost', error: storageError })
      throw storageError
    }
  }
  const pinning = ensureRates(ctx, budgets, now)
  if (pinning !== undefined) {
    try {
      await pinning
    } catch (error) {
      if (isInputError(error)) throw error
      const storageError = asStorageError(error, ctx.store.name)
      ctx.events.emit('store.error', { operation: 'pinRate', action: 'lost', error: storageError })
      throw storageError
    }
  }
  const plan = planAtRates(ctx, budgets, resolved.context, priced.nano, priced.tokens, now)
  return writeCommit(ctx, {
    callId: options.callId ?? ctx.nextCallId(),
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
