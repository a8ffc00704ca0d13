/**
 * The manager's internal context: what its modules share (store, clock, catalog, settings, events, policies, the
 * budget cache, call ids and the writer of held reservations). The modules take this object, never the manager.
 *
 * @packageDocumentation
 */
import type { PriceCatalog } from '../../cost/catalog.js'
import type { BudgetStore } from '../../stores/types.js'
import { priceCommit } from '../commit-pricing.js'
import { EventHub } from '../events.js'
import type { ReservationWriter } from '../held-reservation.js'
import type { BudgetManagerOptions, Clock } from '../manager-types.js'
import { BudgetCache } from './budget-cache.js'
import { writeCommit, writeRelease } from './commit.js'
import type { Plan } from './compiled.js'
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
  /** How held reservations price, commit and release. */
  readonly writer: ReservationWriter<Plan>
  /** A new call id: this manager's random prefix and a counter. */
  nextCallId(): string
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

/** The context of a new manager. @throws BudgetConfigError for bad options. */
export function createContext(options: BudgetManagerOptions): ManagerContext {
  const settings = managerSettings(options)
  const policies = new PolicyCompiler(settings.defaults)
  /** The random part of this manager's call ids, with its `-`. */
  const idPrefix = `${randomPrefix()}-`
  let counter = 0
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
    writer: {
      price: (input, fallback) => priceCommit(settings.catalog, input, fallback),
      commit: (write) => writeCommit(context, write),
      release: (callId) => writeRelease(context, callId),
    },
    nextCallId() {
      counter++
      // Joined rather than concatenated: a flat string, which is what a store keeps for its dedupe window.
      return [idPrefix, counter.toString(36)].join('')
    },
  }
  return context
}
