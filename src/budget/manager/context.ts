/**
 * The manager's internal context: what its modules share (store, clock, catalog, settings, events, policies, the
 * budget cache, call ids and the writer of held reservations). The modules take this object, never the manager.
 *
 * @packageDocumentation
 */
import type { PriceCatalog } from '../../cost/catalog.js'
import type { BudgetStore } from '../../stores/types.js'
import { priceCommit } from '../commit-pricing.js'
import { validateDefinition } from '../definition.js'
import { EventHub } from '../events.js'
import type { ReservationWriter } from '../held-reservation.js'
import type { BudgetManagerOptions, Clock } from '../manager-types.js'
import { CurrencyPins } from '../currency-pins.js'
import { type ProviderBudgetSetup, providerBudgetSetup } from '../provider-budgets.js'
import { parseScope } from '../scopes.js'
import { BudgetCache } from './budget-cache.js'
import { mainWindow } from './budget-windows.js'
import { putDefinition } from './budget-crud.js'
import { writeCommit, writeRelease } from './commit.js'
import type { CompiledBudget, Plan } from './compiled.js'
import { managerSettings } from './options.js'
import { PolicyCompiler } from './policy.js'

export interface ManagerContext {
  readonly store: BudgetStore
  readonly clock: Clock
  readonly catalog: PriceCatalog | undefined
  readonly projectName: string | null
  readonly onStoreError: 'deny' | 'allow'
  readonly holdTtlMs: number
  readonly dedupeTtlMs: number
  /** Sliding expiry of the all-time key of each named scope; `null` keeps it forever. */
  readonly spendTrackingTtlMs: number | null
  readonly events: EventHub
  readonly policies: PolicyCompiler
  readonly budgets: BudgetCache
  /** Exchange rates pinned per window of budgets in another currency. */
  readonly currency: CurrencyPins<CompiledBudget>
  /** How held reservations price, commit and release. */
  readonly writer: ReservationWriter<Plan>
  /** The `providerBudgets` option, written to the store before the first reservation, record or status read. */
  readonly providerBudgets: ProviderBudgetSetup | undefined
  /** A new call id: this manager's random prefix and a counter. */
  nextCallId(): string
  /**
   * This manager's call id prefix (`<16 base-36 characters>-`, the same string each time) when `callId` is the id
   * {@link nextCallId} made last, else `undefined`: what a store's side door may take for the id's start.
   */
  idPrefixOf(callId: string): string | undefined
}

function randomPrefix(): string {
  const bytes = new Uint8Array(8)
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto
  if (c?.getRandomValues) c.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  let out = ''
  for (const b of bytes) out += b.toString(36).padStart(2, '0')
  return out
}

/** The digits of base 36, as `Number#toString(36)` writes them. */
const BASE36: readonly string[] = [...'0123456789abcdefghijklmnopqrstuvwxyz']

/** The context of a new manager. @throws BudgetConfigError for bad options. */
export function createContext(options: BudgetManagerOptions): ManagerContext {
  const settings = managerSettings(options)
  const policies = new PolicyCompiler(settings.defaults)
  /** The random part of this manager's call ids, with its `-`. */
  const idPrefix = `${randomPrefix()}-`
  let counter = 0
  // The id's text but its last digit, for the 36 counters that share it: `Number#toString(36)` and `join` cost more
  // than the rest of the id (one call of each per 36 ids instead of one per id).
  let stemOf = -1
  let stem = idPrefix
  let lastId = ''
  const context: ManagerContext = {
    store: settings.store,
    clock: settings.clock,
    catalog: settings.catalog,
    projectName: settings.projectName,
    onStoreError: settings.onStoreError,
    holdTtlMs: settings.holdTtlMs,
    dedupeTtlMs: settings.dedupeTtlMs,
    spendTrackingTtlMs: settings.spendTrackingTtlMs,
    events: new EventHub(),
    policies,
    budgets: new BudgetCache(settings.store, settings.clock, policies, settings.cacheTtlMs, settings.cacheMax),
    currency: new CurrencyPins(settings.store, settings.exchangeRates, {
      window: mainWindow,
      spec: (budget) => budget.policy.spec,
      recompile: (budget, rate) => policies.recompileAt(budget, rate),
    }),
    writer: {
      price: (input, fallback) => priceCommit(settings.catalog, input, fallback),
      commit: (write) => writeCommit(context, write),
      release: (callId) => writeRelease(context, callId),
    },
    providerBudgets:
      options.providerBudgets === undefined
        ? undefined
        : providerBudgetSetup(options.providerBudgets, {
            read: (scope) => settings.store.getBudget(scope),
            write: (scope, definition) =>
              putDefinition(context, parseScope(scope), validateDefinition(definition), { reason: 'provider budget' }),
          }),
    nextCallId() {
      counter++
      const high = Math.floor(counter / 36)
      if (high !== stemOf) {
        stemOf = high
        // Joined rather than concatenated: a flat string (no leading zero: the first 35 ids have one digit).
        stem = high === 0 ? idPrefix : [idPrefix, high.toString(36)].join('')
      }
      // `idPrefix + counter.toString(36)`. A store that reads the id's characters flattens it once.
      lastId = stem + BASE36[counter - high * 36]!
      return lastId
    },
    idPrefixOf(callId) {
      return callId === lastId ? idPrefix : undefined
    },
  }
  return context
}
