/**
 * Scope patterns: `team:*`, `user:alice`, `user:*-bot`, `*` or `global`, where `*` stands for any run of
 * characters. Used to pick the scopes that metrics report and to route alerts and digests to sinks.
 *
 * @packageDocumentation
 */
import { BudgetConfigError } from '../errors.js'
import { describeValue } from '../internal/describe.js'

/** A compiled scope pattern: `test('team:search')`. */
export interface ScopePattern {
  readonly source: string
  test(scope: string): boolean
}

/** Compiles a pattern; `field` names the option in the error. */
export function scopePattern(pattern: unknown, field = 'scope'): ScopePattern {
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 600) {
    throw new BudgetConfigError(
      field,
      `\`${field}\` must be a scope pattern such as \`team:*\` or \`user:alice\`, got ${describeValue(pattern)}`,
    )
  }
  const source = pattern
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  )
  return { source, test: (scope) => regex.test(scope) }
}

/** True when `scope` matches one of `patterns`. */
export function matchesAny(patterns: readonly ScopePattern[], scope: string): boolean {
  for (const pattern of patterns) if (pattern.test(scope)) return true
  return false
}
