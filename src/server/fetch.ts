/**
 * The fetch-style budget handler alone, without the Node server: for runtimes without `node:http`
 * (Cloudflare Workers, browsers, service workers). Imports nothing from `node:`.
 *
 * @packageDocumentation
 */
export { createBudgetHandler, DEFAULT_MAX_BODY_BYTES, MAX_JSON_DEPTH } from './handler.js'
export type { BudgetHandler, BudgetHandlerOptions, BudgetServerAuth } from './handler.js'
export type { ManagementOptions } from './management.js'
