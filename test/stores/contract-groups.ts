// Contract groups for stores that do not keep daily rollups yet (Redis, HTTP): every group but `rollups`.
// Remove a store's use of this once it implements `queryRollups` (see docs/decisions/0100-spend-rollups.md).
import type { ContractGroup } from '../../src/testing/index.js'

export const WITHOUT_ROLLUPS: readonly ContractGroup[] = [
  'ledger',
  'holds',
  'idempotency',
  'validation',
  'budgets',
  'records',
  'concurrency',
]
