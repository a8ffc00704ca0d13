/**
 * Alert routing: one sink per scope pattern (`team:*` to the teams' Slack channel, `user:*` to an email list),
 * and a helper that subscribes a sink to every alert event of a manager.
 *
 * ```ts
 * subscribeAlerts(budgets, routeAlerts([
 *   { scopes: ['team:*'], sink: slackSink({ webhookUrl: TEAMS_WEBHOOK }) },
 *   { scopes: ['user:*'], sink: emailSink({ send, to: ['finance@example.com'] }) },
 * ]))
 * ```
 *
 * @packageDocumentation
 */
import { BudgetConfigError } from '../errors.js'
import { type AlertEvent, type AlertSink, alertName } from './alerts.js'
import type { BudgetManager } from './manager.js'
import { type ScopePattern, matchesAny, scopePattern } from './scope-pattern.js'

/** One route of {@link routeAlerts}. */
export interface AlertRoute {
  /** Scope patterns (`*` matches anything): `['team:*']`, `['user:alice', 'user:bob']`, `['*']`. */
  scopes: readonly string[]
  /** Where matching alerts go. */
  sink: AlertSink
  /** Which alerts: event names such as `threshold.crossed`. Default: every alert. */
  events?: readonly AlertEventName[]
  /** When true, an alert that matched this route is not offered to the routes after it. Default `false`. */
  stop?: boolean
}

/** The alert events. */
export type AlertEventName = 'threshold.crossed' | 'forecast.exceeded' | 'budget.exceeded' | 'budget.overshot'

const ALERT_EVENTS: readonly AlertEventName[] = [
  'threshold.crossed',
  'forecast.exceeded',
  'budget.exceeded',
  'budget.overshot',
]

/**
 * A sink that hands each alert to every route whose patterns match its scope (in order; `stop` ends the search),
 * and to `fallback` when none matched.
 */
export function routeAlerts(routes: readonly AlertRoute[], fallback?: AlertSink): AlertSink {
  if (!Array.isArray(routes) || routes.length === 0)
    throw new BudgetConfigError('routes', '`routes` must list at least one `{ scopes, sink }`')
  const compiled = routes.map((route, i) => {
    if (typeof route !== 'object' || route === null || typeof route.sink !== 'function')
      throw new BudgetConfigError(
        `routes.${i}.sink`,
        `\`routes[${i}].sink\` must be a sink such as \`slackSink({ webhookUrl })\``,
      )
    if (!Array.isArray(route.scopes) || route.scopes.length === 0)
      throw new BudgetConfigError(
        `routes.${i}.scopes`,
        `\`routes[${i}].scopes\` must list scope patterns such as \`team:*\``,
      )
    const patterns: ScopePattern[] = (route.scopes as readonly string[]).map((p: string, j: number) =>
      scopePattern(p, `routes.${i}.scopes.${j}`),
    )
    for (const name of route.events ?? []) {
      if (!ALERT_EVENTS.includes(name))
        throw new BudgetConfigError(
          `routes.${i}.events`,
          `\`routes[${i}].events\` takes ${ALERT_EVENTS.join(', ')}; got ${JSON.stringify(String(name).slice(0, 40))}`,
        )
    }
    return {
      patterns,
      sink: route.sink,
      events: route.events === undefined ? null : new Set(route.events),
      stop: route.stop === true,
    }
  })
  if (fallback !== undefined && typeof fallback !== 'function')
    throw new BudgetConfigError('fallback', '`fallback` must be a sink')
  return (event: AlertEvent) => {
    const name = alertName(event)
    let matched = false
    for (const route of compiled) {
      if (route.events !== null && !route.events.has(name)) continue
      if (!matchesAny(route.patterns, event.scope)) continue
      matched = true
      route.sink(event)
      if (route.stop) break
    }
    if (!matched) fallback?.(event)
  }
}

/** Subscribes `sink` to every alert event of `manager` (or the ones listed); returns a function that unsubscribes. */
export function subscribeAlerts(
  manager: BudgetManager,
  sink: AlertSink,
  events: readonly AlertEventName[] = ALERT_EVENTS,
): () => void {
  const offs = events.map((name) => manager.on(name, (event: AlertEvent) => sink(event)))
  return () => {
    for (const off of offs) off()
  }
}
