/**
 * `llm-budget/reports`: spend records and reports as files: CSV and JSON Lines exports, and the exact aggregation
 * `querySpend` uses, for records you already hold.
 *
 * ```ts
 * import { recordsToCsv } from 'llm-budget/reports'
 * const csv = recordsToCsv(await budgets.spendRecords({ from: monthStart }))
 * ```
 *
 * @packageDocumentation
 */
export { aggregateSpend, recordsToCsv, recordsToJsonLines, reportToCsv } from './budget/records.js'
export type { SpendGroup, SpendGroupBy, SpendQuery, SpendReport, SpendTotals } from './budget/records.js'
