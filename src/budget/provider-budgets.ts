/**
 * Provider budgets in LiteLLM's `provider_budget_config` shape, verbatim:
 * `{ openai: { budget_limit: 1000, time_period: '30d' }, anthropic: { budget_limit: 500, time_period: '1d' } }`.
 * Each becomes an ordinary `provider:<name>` budget (windows, alerts, history), so a LiteLLM router config can be
 * brought over unchanged.
 */
import { z } from 'zod'
import { BudgetConfigError } from '../errors.js'
import { describeValue } from '../internal/describe.js'
import { closest } from '../internal/suggest.js'
import type { BudgetDefinition } from './definition.js'
import type { Duration } from './windows.js'

/** One provider's budget, as LiteLLM writes it. */
export interface LiteLLMProviderBudget {
  /** USD per period. */
  budget_limit: number
  /** The period: LiteLLM's duration grammar (`1d`, `7d`, `30d`, `1mo`, `1h`, ...). */
  time_period: string
}

/** LiteLLM's `provider_budget_config`: provider name to its budget. */
export type ProviderBudgetConfig = Record<string, LiteLLMProviderBudget>

const FIELDS = ['budget_limit', 'time_period'] as const
const entrySchema = z.object({
  budget_limit: z.number().finite().min(0),
  time_period: z.string().min(1).max(32),
})

/**
 * The `provider:<name>` budget definitions of a LiteLLM provider budget config, validated. Durations are checked
 * when the budgets are written (the same grammar as every budget).
 *
 * @throws BudgetConfigError naming the provider and field, e.g. `providerBudgets.openai.budget_limit`.
 */
export function providerBudgetDefinitions(
  config: unknown,
): { scope: `provider:${string}`; definition: BudgetDefinition }[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new BudgetConfigError(
      'providerBudgets',
      `provider budgets must be an object like { openai: { budget_limit: 100, time_period: '30d' } }, got ${describeValue(config)}`,
    )
  }
  const entries = Object.entries(config)
  if (entries.length > 1_000)
    throw new BudgetConfigError('providerBudgets', `at most 1000 provider budgets, got ${entries.length}`)
  return entries.map(([provider, entry]) => {
    const field = `providerBudgets.${describeValue(provider, 64).slice(1, -1)}`
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(provider)) {
      throw new BudgetConfigError(
        field,
        `provider name ${describeValue(provider, 64)} must be 1 to 64 letters, digits, '_', '.' or '-'`,
      )
    }
    if (typeof entry === 'object' && entry !== null) {
      for (const key of Object.keys(entry)) {
        if ((FIELDS as readonly string[]).includes(key)) continue
        const hint = closest(key, FIELDS)
        throw new BudgetConfigError(
          `${field}.${key}`,
          `\`${field}\` has no field ${describeValue(key, 64)}${hint ? `; did you mean \`${hint}\`?` : `; it takes ${FIELDS.join(' and ')}`}`,
        )
      }
    }
    const parsed = entrySchema.safeParse(entry)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      const path = issue.path.join('.')
      throw new BudgetConfigError(
        path ? `${field}.${path}` : field,
        `\`${field}${path ? `.${path}` : ''}\`: ${issue.message} (expected { budget_limit: number >= 0, time_period: '30d' })`,
      )
    }
    return {
      scope: `provider:${provider}` as const,
      // `time_period` is a plain string in LiteLLM's config (often loaded from JSON); setBudget checks it like any duration.
      definition: { maxBudget: parsed.data.budget_limit, duration: parsed.data.time_period as Duration },
    }
  })
}
