/**
 * llm-budget: track, limit and report what applications spend on LLM calls.
 *
 * The root entry re-exports the public API; it imports nothing from `node:` and runs wherever `fetch` does.
 * Node-only parts (file store, server, CLI) and the SDK integrations are subpaths.
 *
 * @packageDocumentation
 */
export * from './errors.js'
export * from './cost/index.js'
export * from './budget/index.js'
export { parseDuration, validateTimezone, windowAt, nextWindow, formatDuration } from './budget/windows.js'
export type { CalendarDuration, Duration, RollingDuration, WindowDuration, WindowSpec, BudgetWindow } from './budget/windows.js'
export { budgetMetrics } from './budget/metrics.js'
export type { BudgetMetrics, BudgetMetricsOptions } from './budget/metrics.js'
export { memoryStore } from './stores/memory.js'
export type { MemoryStoreOptions } from './stores/memory.js'
export { httpStore, memoryOutbox } from './stores/http.js'
export type { HttpStore, HttpStoreOptions, HttpOutbox, HttpOutboxEntry, QueuedCommitResult } from './stores/http.js'
export type * from './stores/types.js'
