/**
 * `llm-budget/testing`: tools for testing code that uses llm-budget, and for testing stores.
 *
 * @packageDocumentation
 */
export { runStoreContract, storeContractCases } from './contract.js'
export type { ContractCase, ContractContext, ContractGroup, ContractIt, MakeStore, StoreContractOptions } from './contract.js'
