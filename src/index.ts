/**
 * llm-budget: track, limit and report what applications spend on LLM calls.
 *
 * The root entry re-exports the core: the manager, `withBudget`, the memory and HTTP stores, the cost functions and
 * the errors; it imports nothing from `node:` and runs wherever `fetch` does. Alert sinks and digests
 * (`llm-budget/alerts`), CSV and JSON Lines exports (`llm-budget/reports`), the store protocol (`llm-budget/store`),
 * the Node-only parts (file store, server, CLI) and the SDK integrations are subpaths.
 *
 * @packageDocumentation
 */
export * from './errors.js'
export * from './cost/index.js'
export * from './budget/index.js'
// The types of a budget's `duration`; the window arithmetic itself is internal.
export type { CalendarDuration, Duration, RollingDuration } from './budget/windows.js'
export { budgetMetrics } from './budget/metrics.js'
export type { BudgetMetrics, BudgetMetricsOptions } from './budget/metrics.js'
export { memoryStore } from './stores/memory.js'
export type { MemoryStoreOptions } from './stores/memory.js'
export { httpStore, memoryOutbox } from './stores/http.js'
export type { HttpStore, HttpStoreOptions, HttpOutbox, HttpOutboxEntry, QueuedCommitResult } from './stores/http.js'
// The store protocol (requests, results, ledger rows) is `llm-budget/store`; these are the types the manager hands out.
export type { BudgetStore, HistoryEntry, JsonValue, SpendRecord } from './stores/types.js'
