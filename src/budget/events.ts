/**
 * Events of the budget manager (noun-verb names) and a tiny listener hub. Listeners never block or fail
 * the LLM call: their exceptions and rejected promises are caught and reported as `listener.error`.
 *
 * @packageDocumentation
 */
import type { SpendRecord } from '../stores/types.js'
import type { RunScopeString } from './run.js'
import type { ScopeString } from './scopes.js'

/**
 * The currency of a budget declared in another currency than USD (absent for USD budgets). Event amounts stay in
 * USD; divide by `rate` for the budget's currency (alert sinks format both).
 */
export interface EventCurrency {
  /** ISO 4217 code of the budget, e.g. `EUR`. */
  currency?: string
  /** USD per one unit of `currency`, pinned for the window. */
  rate?: number
}

/** A scope in `type:id` form plus the window it was measured in. */
export interface EventWindow {
  /** Window id, e.g. `mo:2026-11`, or `all` for a budget without a window. */
  id: string
  /** Window start, or `null` without a window. */
  start: Date | null
  /** Window end (`resetsAt`), or `null` without a window. */
  resetsAt: Date | null
}

/** A call was refused (`action: 'block'`), or admitted over a `warn` budget (`action: 'warn'`). */
export interface BudgetExceededEvent extends EventCurrency {
  /** The budget that refused or warned; `run:<name>` for a run budget (`manager.run()`). */
  scope: ScopeString | RunScopeString
  /** Model of the per-model limit that refused, when one did. */
  model?: string
  /** Duration of the burst window (`1m`) when a burst limit refused, rather than the period's limit. */
  burst?: string
  action: 'block' | 'warn' | 'fallback'
  /** Model of the call that was refused or warned about, when known. */
  callModel?: string
  /** Provider of that call, when known. */
  provider?: string
  limit: number
  spent: number
  reserved: number
  requested: number
  window: EventWindow
  callId: string
}

/** A commit went above a limit (the money was spent; it is recorded in full). */
export interface BudgetOvershotEvent extends EventCurrency {
  /** The budget overshot; `run:<name>` for a run budget (`manager.run()`). */
  scope: ScopeString | RunScopeString
  model?: string
  /** Duration of the burst window (`1m`) when the overshoot is on a burst limit. */
  burst?: string
  limit: number
  /** Spend after the commit, USD. */
  spent: number
  /** How far above the limit, USD. */
  overshoot: number
  callId: string
  window: EventWindow
}

/** A threshold (soft budget or alert fraction) was crossed by this commit; fires once per scope and window. */
export interface ThresholdCrossedEvent extends EventCurrency {
  scope: ScopeString
  /** `soft` for `softBudget`, `alert` for an `alertThresholds` fraction. */
  kind: 'soft' | 'alert'
  /** The fraction of `maxBudget` (alerts) or `null` (soft budget). */
  fraction: number | null
  /** The threshold in USD. */
  threshold: number
  /** Spend after the commit that crossed it, USD. */
  spend: number
  /** `maxBudget` (with live increases), or `null`. */
  limit: number | null
  /** Spend as a percentage of the limit, or `null` without a limit. */
  percent: number | null
  window: EventWindow
  callId: string
}

/**
 * A commit took a budget's projected spend at the end of its window (at the window's average burn rate so far)
 * above its limit. Fires once per scope and window across instances (claimed through the store).
 */
export interface ForecastExceededEvent extends EventCurrency {
  scope: ScopeString
  /** Projected spend at the end of the window, USD. */
  projectedSpend: number
  /** The limit, USD. */
  limit: number
  /** Spend after the commit, USD. */
  spend: number
  /** When spend reaches the limit at the current rate, or `null` when the window ends first. */
  exhaustsAt: Date | null
  window: EventWindow
  callId: string
}

/** A commit wrote a spend record. */
export interface SpendRecordedEvent {
  /**
   * The record written; its `context` and `metadata` are frozen (and may be shared with other records). Assigning to
   * the record's own fields afterwards changes no stored record (nested objects such as `usage` are not copied).
   */
  record: SpendRecord
  /** Cost in USD. */
  cost: number
  /** True when the cost is an estimate (no usage was available). */
  estimated: boolean
}

/** The store failed; `action` says what the manager did (`deny`: refused the call; `allow`: admitted it unguarded; `lost`: a commit could not be written). */
export interface StoreErrorEvent {
  operation: string
  action: 'deny' | 'allow' | 'lost'
  error: Error
  callId?: string
}

/** A budget was created, updated, increased, reset or deleted. */
export interface BudgetChangedEvent {
  scope: ScopeString
  action: 'create' | 'update' | 'increase' | 'reset' | 'delete'
  reason: string | null
}

/** A listener threw or rejected. */
export interface ListenerErrorEvent {
  event: string
  error: unknown
}

/** Every event and its payload. */
export interface BudgetEvents {
  'budget.exceeded': BudgetExceededEvent
  'budget.overshot': BudgetOvershotEvent
  'threshold.crossed': ThresholdCrossedEvent
  'forecast.exceeded': ForecastExceededEvent
  'spend.recorded': SpendRecordedEvent
  'store.error': StoreErrorEvent
  'budget.changed': BudgetChangedEvent
  'listener.error': ListenerErrorEvent
}

/** An event name. */
export type BudgetEventName = keyof BudgetEvents

/** A listener; may be async, its result is not awaited. */
export type BudgetListener<E extends BudgetEventName> = (payload: BudgetEvents[E]) => unknown

/** @internal Listener registry used by the manager. */
export class EventHub {
  private readonly listeners = new Map<string, Set<(payload: unknown) => unknown>>()

  on<E extends BudgetEventName>(event: E, fn: BudgetListener<E>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    const listener = fn as (payload: unknown) => unknown
    set.add(listener)
    return () => {
      set.delete(listener)
    }
  }

  has(event: BudgetEventName): boolean {
    const set = this.listeners.get(event)
    return set !== undefined && set.size > 0
  }

  emit<E extends BudgetEventName>(event: E, payload: BudgetEvents[E]): void {
    const set = this.listeners.get(event)
    if (set === undefined || set.size === 0) return
    for (const listener of [...set]) {
      try {
        const result = listener(payload)
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
          ;(result as Promise<unknown>).then(undefined, (error: unknown) => this.fail(event, error))
        }
      } catch (error) {
        this.fail(event, error)
      }
    }
  }

  private fail(event: string, error: unknown): void {
    if (event === 'listener.error') return
    this.emit('listener.error', { event, error })
  }
}
