/**
 * The store contract suite: one set of behaviours every {@link BudgetStore} must have, runnable with any
 * test runner that has an `it(name, fn)` (vitest, jest, mocha, node:test).
 *
 * ```ts
 * import { it } from 'vitest'
 * import { runStoreContract } from 'llm-budget/testing'
 * runStoreContract(it, () => myStore(), { concurrency: 1000 })
 * ```
 *
 * Each test gets a fresh store from `makeStore` and a random key prefix; time comes from explicit `now`
 * values, never from sleeps.
 *
 * @packageDocumentation
 */
import type { BudgetStore } from '../stores/types.js'
import { concurrencyCases } from './contract/concurrency.js'
import { holdCases } from './contract/holds.js'
import { ledgerCases } from './contract/ledger.js'
import { recordCases } from './contract/records.js'
import { validationCases } from './contract/validation.js'

/** A test registration function such as vitest's or jest's `it`. */
export type ContractIt = (name: string, fn: () => Promise<void>, timeoutMs?: number) => void

/** Makes a fresh store for one test. */
export type MakeStore = () => BudgetStore | Promise<BudgetStore>

/** Options of {@link runStoreContract}. */
export interface StoreContractOptions {
  /** Concurrent reservations in the concurrency group. Default `1000`. */
  concurrency?: number
  /** Per-test timeout in ms passed to `it`. Default `60_000`. */
  timeoutMs?: number
  /** Only run the groups named here (default: all). */
  groups?: readonly ContractGroup[]
  /** Close the store after each test. Default `true`. */
  closeAfterEach?: boolean
  /** The store's own extra tests, registered after the contract's. */
  additionalTests?: (it: ContractIt, makeStore: MakeStore) => void
}

/** The groups of the contract suite. */
export type ContractGroup =
  'ledger' | 'holds' | 'idempotency' | 'validation' | 'budgets' | 'records' | 'rollups' | 'concurrency'

/** One case of the suite. */
export interface ContractCase {
  group: ContractGroup
  name: string
  run(store: BudgetStore, context: ContractContext): Promise<void>
}

/** What each case receives besides the store. */
export interface ContractContext {
  /** A random prefix for this test's keys, call ids and scopes. */
  prefix: string
  /** A base time (epoch ms) for this test. */
  t0: number
  /** Concurrency of the concurrency group. */
  concurrency: number
}

/** Every case of the contract suite, for runners that want to pick or wrap them. */
export function storeContractCases(): ContractCase[] {
  const cases: ContractCase[] = []
  const add = (group: ContractGroup, name: string, run: ContractCase['run']): void => {
    cases.push({ group, name, run })
  }
  ledgerCases(add)
  holdCases(add)
  validationCases(add)
  recordCases(add)
  concurrencyCases(add)

  return cases
}

/**
 * Registers the store contract suite with a test runner's `it`. Every store that ships with llm-budget passes
 * it; run it against your own store to check that it keeps the same promises.
 *
 * @param it - the test runner's `it` (or `test`).
 * @param makeStore - makes a fresh store for each test.
 * @param options - see {@link StoreContractOptions}.
 */
export function runStoreContract(it: ContractIt, makeStore: MakeStore, options: StoreContractOptions = {}): void {
  const concurrency = options.concurrency ?? 1000
  const timeoutMs = options.timeoutMs ?? 60_000
  const closeAfterEach = options.closeAfterEach ?? true
  for (const contractCase of storeContractCases()) {
    if (options.groups !== undefined && !options.groups.includes(contractCase.group)) continue
    it(
      `store contract › ${contractCase.group} › ${contractCase.name}`,
      async () => {
        const store = await makeStore()
        const prefix = `contract-${Math.random().toString(36).slice(2, 10)}|`
        try {
          await contractCase.run(store, { prefix, t0: 1_800_000_000_000, concurrency })
        } finally {
          if (closeAfterEach) await store.close()
        }
      },
      timeoutMs,
    )
  }
  options.additionalTests?.(it, makeStore)
}
