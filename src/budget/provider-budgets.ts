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
import { type BudgetDefinition, fromStoredJson, validateDefinition } from './definition.js'
import type { StoredBudget } from '../stores/types.js'
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

/** What applying the `providerBudgets` constructor option needs of the manager. */
export interface ProviderBudgetHost {
  /** The stored budget of a scope, read from the store (not gated on the setup). */
  read(scope: string): Promise<StoredBudget | null>
  /** Writes a budget (`setBudget`), keeping the rest of an existing definition. */
  write(scope: `provider:${string}`, definition: BudgetDefinition): Promise<unknown>
}

/** The `providerBudgets` constructor option, applied once. */
export interface ProviderBudgetSetup {
  /** Resolves once the config is in the store (applied on the first call; retried on the next call after a failure). */
  ready(): Promise<void>
  /** True once the config is in the store: {@link ready} has nothing left to wait for. */
  readonly applied: boolean
}

/**
 * The `providerBudgets` constructor option: validated now (a `BudgetConfigError` from the constructor), written to the
 * store once. Idempotent across instances: a provider budget already stored with the same limit and period is left
 * as it is (with its history, alerts and windows); one with another limit or period gets the configured ones, the
 * rest of its definition kept.
 */
export function providerBudgetSetup(config: unknown, host: ProviderBudgetHost): ProviderBudgetSetup {
  const definitions = providerBudgetDefinitions(config)
  for (const { definition } of definitions) validateDefinition(definition)
  let applying: Promise<void> | undefined
  let applied = false
  const apply = async (): Promise<void> => {
    for (const { scope, definition } of definitions) {
      const stored = await host.read(scope)
      const current = stored === null ? null : fromStoredJson(stored.definition, stored.createdAt).definition
      if (current !== null && current.maxBudget === definition.maxBudget && current.duration === definition.duration)
        continue
      await host.write(scope, { ...(current ?? {}), ...definition })
    }
    applied = true
  }
  return {
    get applied() {
      return applied
    },
    ready() {
      applying ??= apply().catch((error: unknown) => {
        // Not applied: the next call tries again (and this one fails loudly, as a store error would).
        applying = undefined
        throw error
      })
      return applying
    },
  }
}
