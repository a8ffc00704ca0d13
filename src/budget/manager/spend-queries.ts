/**
 * Spend queries: records read from the store, filtered, and aggregated exactly (from daily rollups when the store
 * keeps them). Internal to the manager.
 *
 * @packageDocumentation
 */
import type { SpendRecord } from '../../stores/types.js'
import { type SpendQuery, type SpendReport, filterRecords } from '../records.js'
import { spendReport } from '../spend-report.js'
import { storeCall } from '../store-errors.js'
import type { ManagerContext } from './context.js'

/** `manager.querySpend()`: the spend report of a query. */
export async function querySpend(ctx: ManagerContext, query: SpendQuery): Promise<SpendReport> {
  const store = ctx.store
  return spendReport(query, {
    readRecords: (range) => storeCall(store.name, () => store.queryRecords(range)),
    readRollups:
      store.queryRollups === undefined ? undefined : (q) => storeCall(store.name, () => store.queryRollups!(q)),
  })
}

/** `manager.spendRecords()`: the spend records matching a query, oldest first. */
export async function spendRecords(ctx: ManagerContext, query: SpendQuery): Promise<SpendRecord[]> {
  const range: { from?: number; to?: number } = {}
  const from = query.from instanceof Date ? query.from.getTime() : query.from
  const to = query.to instanceof Date ? query.to.getTime() : query.to
  if (from !== undefined) range.from = from
  if (to !== undefined) range.to = to
  const records = await storeCall(ctx.store.name, () => ctx.store.queryRecords(range))
  return filterRecords(records, query)
}
