/**
 * Small conversions for the fields of events and errors: a scope from its key, a call's model and provider labels,
 * dates and event windows. Internal to the manager.
 *
 * @packageDocumentation
 */
import type { EventWindow } from '../events.js'
import type { CallContext, Scope, ScopeType } from '../scopes.js'
import type { BudgetWindow } from '../windows.js'

/** The scope of a `type:id` string built by `scopeKey` (types have no `:`; the id is the rest). */
export function scopeOf(scopeString: string): Scope {
  const colon = scopeString.indexOf(':')
  return { type: scopeString.slice(0, colon) as ScopeType, id: scopeString.slice(colon + 1) }
}

/** The model and provider of a call, for `budget.exceeded` (metrics label blocked calls with them). */
export function callLabels(context: CallContext): { callModel?: string; provider?: string } {
  return {
    ...(context.model === undefined ? {} : { callModel: context.model }),
    ...(context.provider === undefined ? {} : { provider: context.provider }),
  }
}

export function toDate(ms: number | null | undefined): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms)
}

export function eventWindow(window: BudgetWindow | null): EventWindow {
  return window === null
    ? { id: 'all', start: null, resetsAt: null }
    : { id: window.id, start: new Date(window.start), resetsAt: new Date(window.end) }
}
