/**
 * `llm-budget/store`: the store protocol, for writing a store of your own. A store implements {@link BudgetStore}
 * (atomic integer bookkeeping on opaque ledger keys) and checks itself with `runStoreContract` from
 * `llm-budget/testing`; see `docs/custom-store.md`.
 *
 * @packageDocumentation
 */
export type * from './stores/types.js'
export { RELEASE_TOMBSTONE_MS } from './stores/types.js'
