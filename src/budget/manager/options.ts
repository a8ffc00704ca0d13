/**
 * The options of `new BudgetManager()`, checked one by one: unknown keys are refused with the closest known one,
 * bad values with a `BudgetConfigError` naming the option. Internal to the manager.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import type { PriceCatalog } from '../../cost/catalog.js'
import { BudgetConfigError } from '../../errors.js'
import { parseOptions } from '../../internal/options.js'
import { memoryStore } from '../../stores/memory.js'
import type { BudgetStore } from '../../stores/types.js'
import { type BudgetDefinition, validateDefinition } from '../definition.js'
import type { BudgetManagerOptions, Clock } from '../manager-types.js'
import { SCOPE_TYPES, type ScopeType, validateId } from '../scopes.js'
import { DEFAULT_SPEND_TRACKING_TTL_MS } from '../tracked-spend.js'

const SYSTEM_CLOCK: Clock = { now: () => Date.now() }
const DEFAULT_HOLD_TTL_MS = 600_000
const DEFAULT_DEDUPE_TTL_MS = 120_000

/** The known options of `BudgetManager`; values are checked one by one in {@link managerSettings}. */
const MANAGER_OPTIONS = z.object({
  projectName: z.unknown().optional(),
  store: z.unknown().optional(),
  catalog: z.unknown().optional(),
  clock: z.unknown().optional(),
  onStoreError: z.unknown().optional(),
  defaults: z.unknown().optional(),
  holdTtlMs: z.unknown().optional(),
  budgetCacheTtlMs: z.unknown().optional(),
  budgetCacheMax: z.unknown().optional(),
  dedupeTtlMs: z.unknown().optional(),
  spendTrackingTtlMs: z.unknown().optional(),
})

/** The manager's options, checked and with their defaults. */
export interface ManagerSettings {
  store: BudgetStore
  clock: Clock
  catalog: PriceCatalog | undefined
  projectName: string | null
  onStoreError: 'deny' | 'allow'
  holdTtlMs: number
  dedupeTtlMs: number
  cacheTtlMs: number
  cacheMax: number
  /** Sliding expiry of the all-time key of each named scope; `null` keeps it forever. */
  spendTrackingTtlMs: number | null
  defaults: Map<ScopeType, BudgetDefinition>
}

function checkMs(field: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new BudgetConfigError(
      field,
      `\`${field}\` must be a whole number of milliseconds >= ${min}, got ${String(value)}`,
    )
  }
  return value
}

/** Checks the options of `new BudgetManager()`. @throws BudgetConfigError naming the option. */
export function managerSettings(options: BudgetManagerOptions): ManagerSettings {
  parseOptions('new BudgetManager()', MANAGER_OPTIONS, options)
  const store = options.store ?? memoryStore()
  const clock = options.clock ?? store.clock ?? SYSTEM_CLOCK
  if (typeof clock.now !== 'function')
    throw new BudgetConfigError('clock', '`clock` must be `{ now(): number }` (epoch milliseconds)')
  const catalog = options.catalog
  const projectName = options.projectName === undefined ? null : validateId('projectName', options.projectName)
  const onStoreError = options.onStoreError ?? 'deny'
  if (onStoreError !== 'deny' && onStoreError !== 'allow')
    throw new BudgetConfigError('onStoreError', "`onStoreError` must be 'deny' or 'allow'")
  const holdTtlMs = checkMs('holdTtlMs', options.holdTtlMs, DEFAULT_HOLD_TTL_MS, 1)
  const dedupeTtlMs = checkMs('dedupeTtlMs', options.dedupeTtlMs, DEFAULT_DEDUPE_TTL_MS, 1)
  const cacheTtlMs = checkMs('budgetCacheTtlMs', options.budgetCacheTtlMs, 1000)
  const cacheMax = checkMs('budgetCacheMax', options.budgetCacheMax, 100_000, 1)
  const spendTrackingTtlMs =
    options.spendTrackingTtlMs === Number.POSITIVE_INFINITY
      ? null
      : checkMs('spendTrackingTtlMs', options.spendTrackingTtlMs, DEFAULT_SPEND_TRACKING_TTL_MS, 1)
  return {
    store,
    clock,
    catalog,
    projectName,
    onStoreError,
    holdTtlMs,
    dedupeTtlMs,
    cacheTtlMs,
    cacheMax,
    spendTrackingTtlMs,
    defaults: defaultBudgets(options.defaults),
  }
}

/** The default budget of each scope type, validated. */
function defaultBudgets(defaults: BudgetManagerOptions['defaults']): Map<ScopeType, BudgetDefinition> {
  const out = new Map<ScopeType, BudgetDefinition>()
  if (defaults === undefined) return out
  if (typeof defaults !== 'object' || defaults === null)
    throw new BudgetConfigError(
      'defaults',
      '`defaults` must be an object such as `{ endUser: { maxBudget: 1, duration: "daily" } }`',
    )
  for (const [type, definition] of Object.entries(defaults)) {
    if (!(SCOPE_TYPES as readonly string[]).includes(type) || type === 'global') {
      throw new BudgetConfigError(
        `defaults.${type.slice(0, 40)}`,
        `\`defaults\` keys must be scope types other than global (${SCOPE_TYPES.slice(1).join(', ')}); for a global budget use setBudget('global', ...)`,
      )
    }
    try {
      out.set(type as ScopeType, validateDefinition(definition))
    } catch (error) {
      if (error instanceof BudgetConfigError)
        throw new BudgetConfigError(`defaults.${type}.${error.field}`, `\`defaults.${type}\`: ${error.message}`, {
          cause: error,
        })
      throw error
    }
  }
  return out
}
