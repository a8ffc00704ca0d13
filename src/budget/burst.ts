/**
 * Burst windows: a budget can cap a short window as well as its period (`$100 a month` and `$2 a minute`), so an
 * agent stuck in a loop is stopped within minutes rather than at the end of the month. A burst limit is one more
 * ledger key per burst in the call's plan, reserved in the same atomic store call as the period's keys; every store
 * gets it for free.
 *
 * Each burst counts on its own key, `<scope>|b:<duration>|<window id>|usd`: a burst window that happens to have the
 * same id as the period's window (a `daily` burst in a `daily` budget) still has its own counter.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { BudgetConfigError, isBudgetError } from '../errors.js'
import { burstPrefix, ledgerKey } from '../stores/ledger/keys.js'
import { MAX_USD, nanoToUsd, usdToNano } from './money.js'
import { type BudgetWindow, type Duration, type WindowSpec, parseDuration, windowAt } from './windows.js'

/**
 * A burst limit: at most `maxBudget` USD in every `duration` window, on top of the budget's period limit.
 *
 * @example
 * ```ts
 * await budgets.setBudget('user:agent-7', { maxBudget: 100, duration: 'monthly', burst: { maxBudget: 2, duration: '1m' } })
 * ```
 */
export interface BurstLimit {
  /** Hard limit in USD per burst window. */
  maxBudget: number
  /** The burst window: rolling `<n><unit>` (`30s`, `1m`, `1h`) anchored at the budget's creation, or a calendar duration. */
  duration: Duration
}

/** Most burst limits on one budget. */
export const MAX_BURSTS = 4

/** A compiled burst limit (shared by every budget with the same definition). */
export interface BurstPolicy {
  duration: string
  limitNano: number
  spec: WindowSpec
  /** How refusals and status name it: `burst 1m`. */
  label: string
}

const burstSchema = z
  .object({
    maxBudget: z
      .number({ error: 'must be a number of USD' })
      .refine((n) => Number.isFinite(n) && n >= 0, { message: 'must be a finite number of USD >= 0' })
      .refine((n) => n <= MAX_USD, { message: `must be at most ${MAX_USD} USD` }),
    duration: z.string({ error: "must be a duration such as '1m' or '1h'" }).max(32, { message: 'is too long' }),
  })
  .strict()

/**
 * Validates the `burst` option: one `{ maxBudget, duration }` or a list of up to {@link MAX_BURSTS} with distinct
 * durations. Returns a normalized copy in the shape given (object or list).
 *
 * @throws BudgetConfigError naming the field (`burst`, `burst[1].duration`, ...).
 */
export function validateBurst(value: unknown): BurstLimit | BurstLimit[] {
  const list = Array.isArray(value)
  const items: unknown[] = list ? (value as unknown[]) : [value]
  if (list && (items.length === 0 || items.length > MAX_BURSTS))
    throw new BudgetConfigError('burst', `\`burst\` lists 1 to ${MAX_BURSTS} limits, got ${items.length}`)
  const out: BurstLimit[] = []
  const seen = new Set<string>()
  for (let i = 0; i < items.length; i++) {
    const field = list ? `burst[${i}]` : 'burst'
    const item = items[i]
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new BudgetConfigError(
        field,
        `\`${field}\` must be \`{ maxBudget, duration }\` such as \`{ maxBudget: 2, duration: '1m' }\``,
      )
    const parsed = burstSchema.safeParse(item)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      if (issue?.code === 'unrecognized_keys') {
        const key = String((issue as { keys?: string[] }).keys?.[0] ?? '').slice(0, 40)
        throw new BudgetConfigError(
          `${field}.${key}`,
          `\`${field}\` has an unknown option \`${key}\`; known: maxBudget, duration`,
        )
      }
      const at = issue?.path.length ? `${field}.${issue.path.map(String).join('.')}` : field
      throw new BudgetConfigError(at, `\`${at}\` ${issue?.message ?? 'is invalid'}`)
    }
    const { maxBudget, duration } = parsed.data
    try {
      parseDuration(duration)
    } catch (error) {
      if (!isBudgetError(error)) throw error
      throw new BudgetConfigError(`${field}.duration`, `\`${field}.duration\`: ${error.message}`, { cause: error })
    }
    if (seen.has(duration))
      throw new BudgetConfigError(
        `${field}.duration`,
        `\`${field}.duration\` ${JSON.stringify(duration)} is listed twice; give each burst window its own duration`,
      )
    seen.add(duration)
    usdToNano(maxBudget, `${field}.maxBudget`)
    out.push({ maxBudget, duration: duration as Duration })
  }
  return list ? out : out[0]!
}

/** The burst limits of a definition as a list (none, one, or several). */
export function burstList(burst: BurstLimit | readonly BurstLimit[] | undefined): readonly BurstLimit[] {
  if (burst === undefined) return []
  return Array.isArray(burst) ? (burst as readonly BurstLimit[]) : [burst as BurstLimit]
}

/** Compiles a definition's burst limits; `specOf` gives the window spec of a duration (zone, week start, anchor). */
export function compileBursts(
  burst: BurstLimit | readonly BurstLimit[] | undefined,
  specOf: (duration: string) => WindowSpec,
): readonly BurstPolicy[] {
  return burstList(burst).map((limit, i) => ({
    duration: limit.duration,
    limitNano: usdToNano(limit.maxBudget, `burst[${i}].maxBudget`),
    spec: specOf(limit.duration),
    label: `burst ${limit.duration}`,
  }))
}

/** The current window of one burst of one scope and its ledger key (rebuilt when the window rolls). */
export interface BurstWindow {
  policy: BurstPolicy
  window: BudgetWindow
  key: string
}

/**
 * Current windows of a scope's bursts, cached per compiled budget (an object the manager keeps while the budget is
 * cached): a call inside the same windows builds no key.
 */
const windowsByBudget = new WeakMap<object, BurstWindow[]>()
const NO_WINDOWS: readonly BurstWindow[] = []

/** The current window and key of every burst of a scope at `now`. */
export function burstWindows(
  budget: object,
  scopePrefixText: string,
  bursts: readonly BurstPolicy[],
  now: number,
): readonly BurstWindow[] {
  if (bursts.length === 0) return NO_WINDOWS
  let windows = windowsByBudget.get(budget)
  if (windows === undefined || windows.length !== bursts.length) {
    windows = []
    windowsByBudget.set(budget, windows)
  }
  for (let i = 0; i < bursts.length; i++) {
    const policy = bursts[i]!
    const cached = windows[i]
    if (cached !== undefined && cached.policy === policy && now >= cached.window.start && now < cached.window.end)
      continue
    const window = windowAt(policy.spec, now)
    windows[i] = { policy, window, key: ledgerKey(burstPrefix(scopePrefixText, policy.duration), window.id, 'usd') }
  }
  return windows
}

/** One burst window in `getStatus()`. */
export interface BurstStatus {
  /** The burst's duration, e.g. `1m`. */
  duration: string
  /** Committed spend in the current burst window, USD. */
  spend: number
  /** Held by calls in flight, USD. */
  reserved: number
  /** The burst limit, USD. */
  limit: number
  /** `limit - spend - reserved`, never below 0, USD. */
  remaining: number
  /** Start of the current burst window. */
  windowStart: Date
  /** When the burst window rolls over. */
  resetsAt: Date
}

/** True when a definition's burst limits include a rolling duration (anchored at the budget's creation). */
export function rollingBursts(burst: BurstLimit | readonly BurstLimit[] | undefined): boolean {
  return burstList(burst).some((limit) => parseDuration(limit.duration).kind === 'rolling')
}

/** The status of each burst window from its balance (same order as `windows`). */
export function burstStatuses(
  windows: readonly BurstWindow[],
  balances: readonly ({ spent: number; reserved: number } | undefined)[],
): BurstStatus[] {
  return windows.map((w, i) => {
    const spent = balances[i]?.spent ?? 0
    const reserved = balances[i]?.reserved ?? 0
    return {
      duration: w.policy.duration,
      spend: nanoToUsd(spent),
      reserved: nanoToUsd(reserved),
      limit: nanoToUsd(w.policy.limitNano),
      remaining: nanoToUsd(Math.max(0, w.policy.limitNano - spent - reserved)),
      windowStart: new Date(w.window.start),
      resetsAt: new Date(w.window.end),
    }
  })
}
