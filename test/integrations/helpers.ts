/** Shared test helpers: a real BudgetManager on a memory store, spend events, and expected costs. */
import type { ScopeString } from '../../src/budget/scopes.js'
import { BudgetManager } from '../../src/budget/manager.js'
import { calculateCost } from '../../src/cost/index.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { Estimate, Reservation, ReserveOptions } from '../../src/budget/manager.js'
import type { CallContext } from '../../src/budget/scopes.js'
import type { BudgetManagerLike } from '../../src/integrations/options.js'

export interface SpendEvent {
  record: Record<string, unknown>
  cost: number
  estimated: boolean
}

/** A manager with a generous budget for `user:alice`, and the spend events it emits. */
export async function setup(maxBudget = 100, definition: Record<string, unknown> = {}) {
  const manager = new BudgetManager({ store: memoryStore() })
  await manager.setBudget('user:alice', { maxBudget, duration: 'daily', ...definition } as never)
  const events: SpendEvent[] = []
  manager.on('spend.recorded', (event: unknown) => {
    events.push(event as SpendEvent)
  })
  return { manager, events }
}

/** A real manager seen through a counter of `reserve()` calls (each HTTP attempt reserves once). */
export function countingReserves(manager: BudgetManagerLike): { manager: BudgetManagerLike; reserves: () => number } {
  let reserves = 0
  return {
    manager: {
      reserve(context: CallContext, estimate: Estimate, options?: ReserveOptions): Promise<Reservation> {
        reserves++
        return manager.reserve(context, estimate, options)
      },
    },
    reserves: () => reserves,
  }
}

/** The exact nano-USD the catalog charges for this usage at this model. */
export function expectedNano(model: string, usage: unknown, provider?: string): number {
  return calculateCost({ model, usage, ...(provider !== undefined ? { provider } : {}) }).exact.totalNanoUsd
}

/** Held USD on alice's budget (must drop back to 0: no leaked holds). */
export async function reserved(manager: BudgetManager, scope: ScopeString = 'user:alice'): Promise<number> {
  return (await manager.getStatus(scope)).reserved
}

export async function spend(manager: BudgetManager, scope: ScopeString = 'user:alice'): Promise<number> {
  return (await manager.getStatus(scope)).spend
}
