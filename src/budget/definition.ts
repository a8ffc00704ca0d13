/**
 * Budget definitions, validated with zod when they are given. Every problem is a
 * `BudgetConfigError` that names the field and says how to fix it. Limits are converted to integer nano-USD
 * exactly; a limit a store cannot hold exactly (above about $9.007M per counter and window) is refused.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { BudgetConfigError, isBudgetError } from '../errors.js'
import type { JsonValue } from '../stores/types.js'
import { MAX_NANO, MAX_USD, usdToNano } from './money.js'
import { validateId } from './scopes.js'
import { type Duration, parseDuration, validateTimezone } from './windows.js'

/** What happens when a budget cannot admit a call. */
export type OnExceeded = 'block' | 'warn' | { fallbackModel: string }

/** A per-model limit inside a budget (`modelMaxBudget`). */
export interface ModelBudget {
  /** Hard limit in USD for this model inside the scope. */
  maxBudget: number
  /** Window of this limit; defaults to the budget's `duration`. */
  duration?: Duration | undefined
}

/**
 * A budget: what a scope may spend, in which window, with which alerts and rate limits.
 *
 * @example
 * ```ts
 * await budgets.setBudget('team:search', { maxBudget: 500, duration: 'monthly', alertThresholds: [0.5, 0.8, 1] })
 * ```
 */
export interface BudgetDefinition {
  /** Hard limit in USD per window; calls that could exceed it are refused. Omit for a budget that only tracks, alerts or rate-limits. */
  maxBudget?: number | undefined
  /** Soft limit in USD: crossing it fires `threshold.crossed` once per window, never blocks. */
  softBudget?: number | undefined
  /** Fractions of `maxBudget` (e.g. `[0.5, 0.8, 1]`) that fire `threshold.crossed` once per window each. */
  alertThresholds?: readonly number[] | undefined
  /** `daily`, `weekly`, `monthly`, `yearly`, or rolling `<n><unit>` (`30s`, `1h`, `7d`, `1mo`). Omit for a lifetime budget. */
  duration?: Duration | undefined
  /** IANA time zone of calendar windows. Default `UTC`. */
  timezone?: string | undefined
  /** First day of weekly windows, 0 = Sunday .. 6 = Saturday. Default 1 (Monday). */
  weekStartsOn?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | undefined
  /** Per-model hard limits inside this scope: `{ 'gpt-4o': { maxBudget: 10, duration: 'daily' } }`. */
  modelMaxBudget?: Readonly<Record<string, ModelBudget>> | undefined
  /** Requests per minute. */
  rpmLimit?: number | undefined
  /** Tokens (input + output) per minute. */
  tpmLimit?: number | undefined
  /** Calls in flight at once. */
  maxParallelRequests?: number | undefined
  /** `block` (default) refuses; `warn` admits and emits `budget.exceeded`; `{ fallbackModel }` retries the reservation with that model. */
  onExceeded?: OnExceeded | undefined
  /** Currency of the amounts. Only `USD` for now. */
  currency?: 'USD' | undefined
  /** Your own data about the budget (owner, cost centre); JSON. */
  metadata?: Readonly<Record<string, JsonValue>> | undefined
}

const usd = (field: string) =>
  z
    .number({ error: `\`${field}\` must be a number of USD` })
    .refine((n) => Number.isFinite(n) && n >= 0, { message: `\`${field}\` must be a finite number of USD >= 0` })
    .refine((n) => n <= MAX_USD, {
      message: `\`${field}\` must be at most ${MAX_USD} USD, the largest amount a store holds exactly per counter and window; use a shorter window or split the budget`,
    })

const positiveInt = (field: string) =>
  z
    .number({ error: `\`${field}\` must be a whole number >= 1` })
    .int({ message: `\`${field}\` must be a whole number >= 1` })
    .min(1, { message: `\`${field}\` must be a whole number >= 1` })
    .max(Number.MAX_SAFE_INTEGER)

const durationText = (field: string) =>
  z
    .string({ error: `\`${field}\` must be a string such as \`monthly\` or \`30d\`` })
    .max(32, { message: `\`${field}\` is too long` })

const definitionSchema = z
  .object({
    maxBudget: usd('maxBudget').optional(),
    softBudget: usd('softBudget').optional(),
    alertThresholds: z
      .array(
        z.number().refine((n) => Number.isFinite(n) && n > 0 && n <= 10, {
          message: '`alertThresholds` entries must be fractions of maxBudget in (0, 10], e.g. 0.8',
        }),
        {
          error: '`alertThresholds` must be an array of fractions such as `[0.5, 0.8, 1]`',
        },
      )
      .max(16, { message: '`alertThresholds` may list at most 16 thresholds' })
      .optional(),
    duration: durationText('duration').optional(),
    timezone: z.string({ error: '`timezone` must be an IANA zone name such as `Europe/Berlin`' }).max(64).optional(),
    weekStartsOn: z
      .number()
      .int()
      .min(0)
      .max(6, { message: '`weekStartsOn` must be 0 (Sunday) to 6 (Saturday)' })
      .optional(),
    modelMaxBudget: z.unknown().optional(),
    rpmLimit: positiveInt('rpmLimit').optional(),
    tpmLimit: positiveInt('tpmLimit').optional(),
    maxParallelRequests: positiveInt('maxParallelRequests').optional(),
    onExceeded: z
      .union(
        [z.literal('block'), z.literal('warn'), z.object({ fallbackModel: z.string().min(1).max(256) }).strict()],
        {
          error: "`onExceeded` must be 'block', 'warn' or { fallbackModel: 'model-name' }",
        },
      )
      .optional(),
    currency: z
      .literal('USD', { error: '`currency` must be `USD` (other currencies are not supported yet)' })
      .optional(),
    metadata: z.unknown().optional(),
  })
  .strict()

function configError(error: z.ZodError): BudgetConfigError {
  const issue = error.issues[0]
  const field = issue === undefined || issue.path.length === 0 ? 'definition' : issue.path.map(String).join('.')
  if (issue?.code === 'unrecognized_keys') {
    const keys = (issue as { keys?: string[] }).keys ?? []
    return new BudgetConfigError(
      keys[0] ?? field,
      `Unknown budget option ${keys.map((k) => `\`${k.slice(0, 40)}\``).join(', ')}; known options: ${Object.keys(definitionSchema.shape).join(', ')}`,
    )
  }
  const message = issue?.message ?? 'invalid budget definition'
  return new BudgetConfigError(field, message.includes('`') ? message : `\`${field}\`: ${message}`)
}

function jsonValue(field: string, value: unknown, depth: number): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new BudgetConfigError(field, `\`${field}\` must be JSON (finite numbers only)`)
    return value
  }
  if (depth > 8) throw new BudgetConfigError(field, `\`${field}\` is nested too deeply (at most 8 levels)`)
  if (Array.isArray(value)) return value.map((v, i) => jsonValue(`${field}[${i}]`, v, depth + 1))
  if (typeof value === 'object') {
    const out: Record<string, JsonValue> = {}
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      Object.defineProperty(out, k, {
        value: jsonValue(`${field}.${k.slice(0, 40)}`, v, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }
  throw new BudgetConfigError(field, `\`${field}\` must be JSON, got ${typeof value}`)
}

function checkDuration(field: string, duration: string): asserts duration is Duration {
  try {
    parseDuration(duration)
  } catch (error) {
    if (isBudgetError(error))
      throw new BudgetConfigError(
        field,
        error.message.includes(field) ? error.message : `\`${field}\`: ${error.message}`,
        { cause: error },
      )
    throw error
  }
}

/**
 * Validates a budget definition. Returns a normalized copy (plain JSON, own properties only).
 *
 * @throws BudgetConfigError naming the field and the fix.
 */
export function validateDefinition(input: unknown): BudgetDefinition {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BudgetConfigError(
      'definition',
      'A budget definition must be an object such as `{ maxBudget: 10, duration: "monthly" }`',
    )
  }
  const parsed = definitionSchema.safeParse(input)
  if (!parsed.success) throw configError(parsed.error)
  const data = parsed.data
  const out: BudgetDefinition = {}
  if (data.maxBudget !== undefined) {
    usdToNano(data.maxBudget, 'maxBudget')
    out.maxBudget = data.maxBudget
  }
  if (data.softBudget !== undefined) out.softBudget = data.softBudget
  if (data.alertThresholds !== undefined) {
    if (data.maxBudget === undefined)
      throw new BudgetConfigError(
        'alertThresholds',
        '`alertThresholds` are fractions of `maxBudget`; set `maxBudget` too, or use `softBudget` for an amount',
      )
    out.alertThresholds = [...new Set(data.alertThresholds)].sort((a, b) => a - b)
  }
  if (data.duration !== undefined) {
    checkDuration('duration', data.duration)
    out.duration = data.duration
  }
  if (data.timezone !== undefined) {
    try {
      validateTimezone(data.timezone)
    } catch (error) {
      throw new BudgetConfigError(
        'timezone',
        `\`timezone\` must be an IANA zone name such as \`Europe/Berlin\`, got ${JSON.stringify(data.timezone)}`,
        { cause: error },
      )
    }
    out.timezone = data.timezone
  }
  if (data.weekStartsOn !== undefined) out.weekStartsOn = data.weekStartsOn as BudgetDefinition['weekStartsOn']
  if (data.modelMaxBudget !== undefined) out.modelMaxBudget = validateModelBudgets(data.modelMaxBudget)
  if (data.rpmLimit !== undefined) out.rpmLimit = data.rpmLimit
  if (data.tpmLimit !== undefined) out.tpmLimit = data.tpmLimit
  if (data.maxParallelRequests !== undefined) out.maxParallelRequests = data.maxParallelRequests
  if (data.onExceeded !== undefined)
    out.onExceeded =
      typeof data.onExceeded === 'string' ? data.onExceeded : { fallbackModel: data.onExceeded.fallbackModel }
  if (data.currency !== undefined) out.currency = data.currency
  if (data.metadata !== undefined) {
    if (typeof data.metadata !== 'object' || data.metadata === null || Array.isArray(data.metadata))
      throw new BudgetConfigError('metadata', '`metadata` must be an object')
    const metadata = jsonValue('metadata', data.metadata, 0) as Record<string, JsonValue>
    if (JSON.stringify(metadata).length > 16_384)
      throw new BudgetConfigError('metadata', '`metadata` must be at most 16 KiB of JSON')
    out.metadata = metadata
  }
  return out
}

function validateModelBudgets(value: unknown): Record<string, ModelBudget> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BudgetConfigError(
      'modelMaxBudget',
      "`modelMaxBudget` must be an object such as `{ 'gpt-4o': { maxBudget: 10, duration: 'daily' } }`",
    )
  }
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > 64) throw new BudgetConfigError('modelMaxBudget', '`modelMaxBudget` may list at most 64 models')
  const out: Record<string, ModelBudget> = {}
  for (const [model, item] of entries) {
    const field = `modelMaxBudget.${model.slice(0, 60)}`
    try {
      validateId(field, model)
    } catch (error) {
      throw new BudgetConfigError(field, (error as Error).message)
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new BudgetConfigError(field, `\`${field}\` must be \`{ maxBudget, duration? }\``)
    const record = item as Record<string, unknown>
    for (const key of Object.keys(record)) {
      if (key !== 'maxBudget' && key !== 'duration')
        throw new BudgetConfigError(
          `${field}.${key.slice(0, 40)}`,
          `\`${field}\` has an unknown option \`${key.slice(0, 40)}\`; known: maxBudget, duration`,
        )
    }
    const max = usd(`${field}.maxBudget`).safeParse(record.maxBudget)
    if (!max.success)
      throw new BudgetConfigError(
        `${field}.maxBudget`,
        max.error.issues[0]?.message ?? `\`${field}.maxBudget\` must be a number of USD >= 0`,
      )
    const budget: ModelBudget = { maxBudget: max.data }
    if (record.duration !== undefined) {
      if (typeof record.duration !== 'string')
        throw new BudgetConfigError(`${field}.duration`, `\`${field}.duration\` must be a string such as \`daily\``)
      checkDuration(`${field}.duration`, record.duration)
      budget.duration = record.duration
    }
    Object.defineProperty(out, model, { value: budget, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** A temporary increase of a budget's limit. */
export interface BudgetIncrease {
  /** Extra USD on top of `maxBudget`. */
  amount: number
  /** When it stops counting, epoch ms. */
  until: number
  /** Why it was granted. */
  reason: string | null
  /** When it was granted, epoch ms. */
  at: number
}

/** What the manager stores per budget: the definition plus bookkeeping. */
export interface StoredDefinition {
  definition: BudgetDefinition
  /** Anchor of rolling windows, epoch ms (creation time). */
  anchor: number
  /** Temporary increases that have not expired yet. */
  increases: BudgetIncrease[]
}

/** Serializes a stored definition as the store's JSON. */
export function toStoredJson(stored: StoredDefinition): JsonValue {
  return {
    v: 1,
    definition: stored.definition as unknown as JsonValue,
    anchor: stored.anchor,
    increases: stored.increases as unknown as JsonValue,
  }
}

/**
 * Reads a stored definition back (from any instance or version), validating it again.
 *
 * @throws BudgetConfigError when the stored JSON is not a valid definition.
 */
export function fromStoredJson(json: JsonValue, fallbackAnchor: number): StoredDefinition {
  const record = (typeof json === 'object' && json !== null && !Array.isArray(json) ? json : {}) as Record<
    string,
    JsonValue
  >
  const definition = validateDefinition(record.v === 1 ? record.definition : json)
  const anchor = typeof record.anchor === 'number' && Number.isFinite(record.anchor) ? record.anchor : fallbackAnchor
  const increases: BudgetIncrease[] = []
  if (Array.isArray(record.increases)) {
    for (const item of record.increases) {
      const inc = item as Record<string, JsonValue>
      if (typeof inc.amount === 'number' && typeof inc.until === 'number' && Number.isFinite(inc.until)) {
        increases.push({
          amount: inc.amount,
          until: inc.until,
          reason: typeof inc.reason === 'string' ? inc.reason : null,
          at: typeof inc.at === 'number' ? inc.at : 0,
        })
      }
    }
  }
  return { definition, anchor, increases }
}

/** Sum of `maxBudget` and live increases in nano-USD; refuses a sum a store cannot hold exactly. */
export function limitWithIncreases(maxBudgetNano: number, increases: readonly { amountNano: number }[]): number {
  let total = maxBudgetNano
  for (const inc of increases) total += inc.amountNano
  if (!Number.isSafeInteger(total) || total > MAX_NANO) {
    throw new BudgetConfigError(
      'amount',
      `The limit with its increases would exceed ${MAX_USD} USD, the largest amount a store holds exactly`,
    )
  }
  return total
}
