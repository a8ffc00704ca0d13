/**
 * llm-budget: track, limit and report what applications spend on LLM calls.
 *
 * The root entry re-exports the public API; it imports nothing from `node:` and runs wherever `fetch` does.
 *
 * @packageDocumentation
 */
export * from './errors.js'
export { memoryStore } from './stores/memory.js'
export type { MemoryStoreOptions } from './stores/memory.js'
export type * from './stores/types.js'
