/**
 * What a commit crossed: a limit (overshoot, `budget.overshot`), the soft budget and alert thresholds
 * (`threshold.crossed`, once per threshold and window because the store reports each commit's before and after),
 * and the forecast (`forecast.exceeded`, once per scope and window, claimed through the store). Internal to the
 * manager.
 *
 * @packageDocumentation
 */
import { ledgerKey } from '../../stores/ledger/keys.js'
import { claimOnce, projectedCrossing } from '../forecast-alert.js'
import type { Overshoot } from '../manager-types.js'
import { fractionOfNano, nanoToUsd } from '../money.js'
import { asStorageError } from '../store-errors.js'
import { limitNano, prefixOf } from './budget-windows.js'
import type { EntryMeta } from './compiled.js'
import type { ManagerContext } from './context.js'
import { currencyOf } from './currency.js'
import { eventWindow, toDate } from './event-fields.js'

/** Raises `forecast.exceeded` once per scope and window (claimed through the store) when this commit takes the projection over the limit. */
export function checkForecast(
  ctx: ManagerContext,
  meta: EntryMeta,
  before: number,
  after: number,
  reserved: number,
  callId: string,
  now: number,
): void {
  if (meta.kind !== 'usd' || meta.window === null || !ctx.events.has('forecast.exceeded')) return
  const limit = limitNano(meta.budget, now)
  if (limit === null) return
  const window = meta.window
  const crossing = projectedCrossing({
    start: window.start,
    end: window.end,
    now,
    before,
    after,
    reserved,
    limitNano: limit,
  })
  if (crossing === null) return
  const scope = meta.budget.scopeString
  claimOnce(ctx.store, ledgerKey(`${prefixOf(meta.budget)}|fc`, window.id, 'usd'), callId, now, window.end).then(
    (claimed) => {
      if (!claimed) return
      ctx.events.emit('forecast.exceeded', {
        ...currencyOf(meta.budget),
        scope,
        projectedSpend: nanoToUsd(crossing.projectedNano),
        limit: nanoToUsd(limit),
        spend: nanoToUsd(after),
        exhaustsAt: toDate(crossing.exhaustsAt),
        window: eventWindow(window),
        callId,
      })
    },
    (error: unknown) =>
      ctx.events.emit('store.error', {
        operation: 'forecastClaim',
        action: 'lost',
        error: asStorageError(error, ctx.store.name),
        callId,
      }),
  )
}

/** Adds the overshoot of an entry a commit took over its limit, and emits `budget.overshot` and `threshold.crossed`. */
export function checkCrossings(
  ctx: ManagerContext,
  meta: EntryMeta,
  before: number,
  after: number,
  callId: string,
  now: number,
  overshoot: Overshoot[],
): void {
  if (after <= before) return
  // The period's limit has increases; per-model, burst and run limits are the entry's own.
  const limit = meta.kind === 'usd' ? limitNano(meta.budget, now) : meta.softLimit
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
    if (meta.burst !== undefined) item.burst = meta.burst.duration
    overshoot.push(item)
    ctx.events.emit('budget.overshot', {
      ...currencyOf(meta.budget),
      scope,
      ...(model === undefined ? {} : { model }),
      ...(item.burst === undefined ? {} : { burst: item.burst }),
      limit: item.limit,
      spent: item.spent,
      overshoot: item.overshoot,
      callId,
      window: eventWindow(meta.window),
    })
  }
  if (meta.kind !== 'usd' || !ctx.events.has('threshold.crossed')) return
  const budget = meta.budget
  const fire = (kind: 'soft' | 'alert', fraction: number | null, threshold: number): void => {
    if (!(before < threshold && threshold <= after)) return
    ctx.events.emit('threshold.crossed', {
      ...currencyOf(meta.budget),
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
