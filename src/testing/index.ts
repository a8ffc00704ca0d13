/**
 * `llm-budget/testing`: tools for testing code that uses llm-budget, and for testing stores.
 *
 * @packageDocumentation
 */
export { runStoreContract, storeContractCases } from './contract.js'
export type {
  ContractCase,
  ContractContext,
  ContractGroup,
  ContractIt,
  MakeStore,
  StoreContractOptions,
} from './contract.js'
export { fakeClock } from './clock.js'
export type { FakeClock } from './clock.js'
export { fakeAnthropic, fakeOpenAI } from './fake-llm.js'
export type { FakeAnthropicClient, FakeClientOptions, FakeOpenAIClient, FakeRequest } from './fake-llm.js'
export { fakeLLMFetch } from './fake-fetch.js'
export type { FakeFetch } from './fake-fetch.js'
