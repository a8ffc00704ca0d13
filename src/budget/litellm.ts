/**
 * The LiteLLM-compatible methods of `BudgetManager` (camelCase of LiteLLM's `BudgetManager`), written on the
 * manager's public methods. A `user` argument is `'erin'` or `'user:erin'`.
 *
 * @packageDocumentation
 */
import type { PriceCatalog } from '../cost/catalog.js'
import { InvalidInputError } from '../errors.js'
import type { BudgetDefinition } from './definition.js'
import type { Duration } from './windows.js'
import type { BudgetManager } from './manager.js'
import type { BudgetInfo, BudgetStatus, CommitOutcome } from './manager-types.js'
import { nanoToUsd, usdToNano } from './money.js'
import { type EstimateRequest, inputCostNano } from './pricing.js'
import type { SpendQuery } from './records.js'
import { parseUser, validateId } from './scopes.js'
import { storeCall } from './store-errors.js'
import { trackedKey } from './tracked-spend.js'

/** The input of `updateCost`. */
export type UpdateCostInput =
  | { user: string; completionResponse: unknown; model?: string }
  | { user: string; model: string; usage: unknown }
  | { user: string; cost: number; model?: string }

/** The input of `projectedCost`. */
export interface ProjectedCostInput {
  user: string
  model: string
  messages?: EstimateRequest['messages']
  inputTokens?: number
}

function userScope(user: unknown): { type: 'user'; id: string } {
  return { type: 'user', id: parseUser('user', user) }
}

/** The user's budget status, or `null` when the user has no budget (stored or default). */
async function statusOrNull(manager: BudgetManager, scope: { type: 'user'; id: string }): Promise<BudgetStatus | null> {
  try {
    return await manager.getStatus(scope)
  } catch (error) {
    // The id is valid (parsed above), so an input error here means "no budget".
    if (error instanceof InvalidInputError && error.field === 'scope') return null
    throw error
  }
}

/** When the user's spend was last reset (`resetCost`), epoch ms, or `null`. */
async function lastReset(manager: BudgetManager, scope: { type: 'user'; id: string }): Promise<number | null> {
  const history = await manager.getHistory(scope)
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.action === 'reset') return history[i]!.at
  return null
}

export function createBudget(
  manager: BudgetManager,
  input: { user: string; totalBudget: number; duration?: Duration | undefined },
): Promise<BudgetInfo> {
  if (typeof input !== 'object' || input === null)
    throw new InvalidInputError('input', '`createBudget` takes `{ user, totalBudget, duration? }`')
  const definition: BudgetDefinition = { maxBudget: input.totalBudget }
  if (input.duration !== undefined) definition.duration = input.duration
  return manager.setBudget(userScope(input.user), definition)
}

export function updateCost(manager: BudgetManager, input: UpdateCostInput): Promise<CommitOutcome> {
  if (typeof input !== 'object' || input === null)
    throw new InvalidInputError(
      'input',
      '`updateCost` takes `{ user, completionResponse }`, `{ user, model, usage }` or `{ user, cost, model? }`',
    )
  const user = parseUser('user', input.user)
  const model = (input as { model?: unknown }).model
  const modelName = typeof model === 'string' ? model : undefined
  if ('cost' in input && input.cost !== undefined)
    return manager.record(
      { user },
      modelName === undefined ? { cost: input.cost } : { cost: input.cost, model: modelName },
    )
  const usage = 'usage' in input ? input.usage : 'completionResponse' in input ? input.completionResponse : undefined
  if (usage === undefined || usage === null)
    throw new InvalidInputError('completionResponse', '`updateCost` needs `completionResponse`, `usage` or `cost`')
  let served = modelName
  if (served === undefined && typeof usage === 'object' && typeof (usage as { model?: unknown }).model === 'string')
    served = (usage as { model: string }).model
  return manager.record({ user }, served === undefined ? { usage } : { usage, model: served })
}

export async function getCurrentCost(manager: BudgetManager, user: string): Promise<number> {
  const scope = userScope(user)
  const status = await statusOrNull(manager, scope)
  if (status !== null) return status.spend
  const [balance] = await storeCall(manager.store.name, () =>
    manager.store.balances({ keys: [trackedKey(scope)], now: manager.clock.now() }),
  )
  return nanoToUsd(balance?.spent ?? 0)
}

export async function getTotalBudget(manager: BudgetManager, user: string): Promise<number> {
  const info = await manager.getBudget(userScope(user))
  return info?.definition.maxBudget ?? 0
}

export async function getModelCost(manager: BudgetManager, user: string): Promise<Record<string, number>> {
  const scope = userScope(user)
  const status = await statusOrNull(manager, scope)
  const reset = await lastReset(manager, scope)
  const from = Math.max(status?.windowStart?.getTime() ?? Number.NEGATIVE_INFINITY, reset ?? Number.NEGATIVE_INFINITY)
  const query: SpendQuery = { scope, groupBy: ['modelServed'] }
  if (from > Number.NEGATIVE_INFINITY) query.from = from
  const report = await manager.querySpend(query)
  const out: Record<string, number> = {}
  for (const group of report.groups) {
    const model = group.key.modelServed ?? 'unknown'
    Object.defineProperty(out, model, { value: group.cost, enumerable: true, writable: true, configurable: true })
  }
  return out
}

export async function isValidUser(manager: BudgetManager, user: string): Promise<boolean> {
  return (await manager.getBudget(userScope(user))) !== null
}

export async function getUsers(manager: BudgetManager): Promise<string[]> {
  const budgets = await storeCall(manager.store.name, () => manager.store.listBudgets())
  return budgets.filter((b) => b.scope.startsWith('user:')).map((b) => b.scope.slice(5))
}

export async function projectedCost(
  manager: BudgetManager,
  catalog: PriceCatalog | undefined,
  input: ProjectedCostInput,
): Promise<number> {
  if (typeof input !== 'object' || input === null)
    throw new InvalidInputError('input', '`projectedCost` takes `{ user, model, messages | inputTokens }`')
  validateId('model', input.model)
  const nano = inputCostNano(catalog, input.model, { messages: input.messages, inputTokens: input.inputTokens })
  const current = await getCurrentCost(manager, input.user)
  return nanoToUsd(usdToNano(current) + nano)
}

export async function resetCost(manager: BudgetManager, user: string): Promise<void> {
  await manager.resetScope(userScope(user), { reason: 'resetCost' })
}

export async function resetOnDuration(
  manager: BudgetManager,
  user: string,
): Promise<{ reset: boolean; resetsAt: Date | null }> {
  const status = await statusOrNull(manager, userScope(user))
  if (status === null) return { reset: false, resetsAt: null }
  return { reset: status.spend === 0 && status.windowStart !== null, resetsAt: status.resetsAt }
}
