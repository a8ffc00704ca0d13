/**
 * Management endpoints (`/budget/*`, `/spend/*`), served through a `BudgetManager` per tenant.
 *
 * @internal Used by the handler.
 */
import type { BudgetStore } from '../stores/types.js'
import type { Route } from './handler.js'

/** Options of the management endpoints. */
export interface ManagementOptions {
  /** A budget manager whose store the server uses (placeholder until BudgetManager lands). */
  manager?: { readonly store: BudgetStore }
}

/** Routes by path. */
export function createManagementRoutes(_options: ManagementOptions, _store: BudgetStore): Record<string, Route> {
  return {}
}
