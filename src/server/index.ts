/**
 * `llm-budget/server`: the budget server. `createBudgetHandler` is a fetch-style handler for any runtime;
 * `createBudgetServer` puts it on `node:http`. Runtimes without `node:http` import `./fetch.ts` (the handler
 * alone).
 *
 * @packageDocumentation
 */
export { createBudgetHandler, DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH } from './handler.js'
export type { BudgetHandler, BudgetHandlerOptions, BudgetServerAuth } from './handler.js'
export type { ManagementOptions } from './management.js'
export { createBudgetServer } from './node.js'
export type { BudgetServerOptions } from './node.js'
