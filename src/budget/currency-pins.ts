/**
 * Exchange rates pinned per budget window, in the stored definition.
 *
 * A budget in another currency (`{ maxBudget: 100, currency: 'EUR' }`) is enforced in exact USD: its amounts are
 * converted at the rate in force when its window opens, and that rate is kept for the whole window. The first
 * instance that needs the rate of a window reads it (table or function) and writes it into the stored definition
 * with a compare-and-set on the budget's revision (`putBudget` with `ifRevision`), with a history entry; every other
 * instance, and every later call in the window, uses the stored pin. So all instances agree on the rate, and a rate
 * change never moves a window's limit after it opened (see docs/decisions/0026-currency-rate-pinning.md).
 *
 * Pin keys: the window id for windows of a day or longer (calendar windows, rolling windows of `1d` and up); rolling
 * windows shorter than a day share the pin of the UTC day their window opens in (`day:2026-12-06`), so a `1h` budget
 * writes one pin a day, not 24; a budget without a window uses `all`, pinned again by each `setBudget`.
 *
 * @packageDocumentation
 */
import { StorageError } from '../errors.js'
import type { BudgetStore, JsonValue, StoredBudget } from '../stores/types.js'
import { type ExchangeRates, type PinnedRate, nanoToCurrency, rateAt } from './currency.js'
import { type BudgetDefinition, type StoredDefinition, fromStoredJson, toStoredJson } from './definition.js'
import { nanoToUsd } from './money.js'
import { storeCall } from './store-errors.js'
import { type BudgetWindow, type WindowSpec, parseDuration, windowAt } from './windows.js'

const DAY_MS = 86_400_000
/** Pins kept per budget (the newest by time; the current window's pin is always kept). */
const MAX_PINS = 8
const MAX_RETRIES = 8

/** What the manager keeps per compiled budget in another currency than USD. */
export interface CurrencyState {
  /** ISO 4217 code, never `USD`. */
  code: string
  /** The stored definition, with the pins known to this instance (pins are added as windows open). */
  stored: StoredDefinition
  /** Pin key the budget's policy is compiled for, or `null` before the first call. */
  key: string | null
  /** The rate of `key`. */
  pin: PinnedRate | null
}

/** The part of a compiled budget this module reads and writes. */
export interface CurrencyBudget {
  scopeString: string
  currency: CurrencyState | null
}

/** How the manager lets this module see windows and recompile a budget's limits. */
export interface CurrencyHost<B extends CurrencyBudget> {
  /** The budget's current window at `now`, or `null` for a budget without a window. */
  window(budget: B, now: number): BudgetWindow | null
  /** The budget's window spec, or `null`. */
  spec(budget: B): WindowSpec | null
  /** Recompiles the budget's limits at `rate` (USD per unit). */
  recompile(budget: B, rate: number): void
}

/** The pin key of a window (see the module comment). */
export function pinKey(spec: WindowSpec | null, window: BudgetWindow | null): string {
  if (spec === null || window === null) return 'all'
  const kind = typeof spec.duration === 'string' ? parseDuration(spec.duration).kind : spec.duration.kind
  if (kind === 'rolling' && window.end - window.start < DAY_MS)
    return `day:${new Date(window.start).toISOString().slice(0, 10)}`
  return window.id
}

/** The currency of a definition other than USD, or `null`. */
export function foreignCurrency(definition: BudgetDefinition): string | null {
  const code = definition.currency
  return code === undefined || code === 'USD' ? null : code
}

/** The state a compiled budget carries: `null` for a USD budget. */
export function currencyState(stored: StoredDefinition): CurrencyState | null {
  const code = foreignCurrency(stored.definition)
  return code === null ? null : { code, stored: { ...stored }, key: null, pin: null }
}

/** The main window of a definition at `now` (for writes, which do not go through the manager's window cache). */
function windowOfDefinition(
  stored: StoredDefinition,
  now: number,
): { spec: WindowSpec | null; window: BudgetWindow | null } {
  const d = stored.definition
  if (d.duration === undefined) return { spec: null, window: null }
  const spec: WindowSpec =
    parseDuration(d.duration).kind === 'calendar'
      ? { duration: d.duration }
      : { duration: d.duration, anchor: stored.anchor }
  if (d.timezone !== undefined) spec.timezone = d.timezone
  if (d.weekStartsOn !== undefined) spec.weekStartsOn = d.weekStartsOn
  return { spec, window: windowAt(spec, now) }
}

/** `rates` with `key` set, trimmed to the newest {@link MAX_PINS} (always keeping `key`). */
function withPin(
  rates: Record<string, PinnedRate> | undefined,
  key: string,
  pin: PinnedRate,
): Record<string, PinnedRate> {
  const entries = Object.entries(rates ?? {}).filter(([k]) => k !== key)
  entries.sort((a, b) => b[1].at - a[1].at)
  const out: Record<string, PinnedRate> = {}
  for (const [k, v] of [[key, pin] as const, ...entries.slice(0, MAX_PINS - 1)])
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
  return out
}

/**
 * The exchange rates of one manager: reads rates, pins them per window through the store, and keeps the compiled
 * limits of budgets in another currency on the pinned rate of their current window.
 */
export class CurrencyPins<B extends CurrencyBudget> {
  readonly #store: BudgetStore
  readonly #rates: ExchangeRates | undefined
  readonly #host: CurrencyHost<B>
  /** Pins being written, by `scope|key`, so concurrent first calls of a window read the rate and write once. */
  readonly #pending = new Map<string, Promise<PinnedRate>>()

  constructor(store: BudgetStore, rates: ExchangeRates | undefined, host: CurrencyHost<B>) {
    this.#store = store
    this.#rates = rates
    this.#host = host
  }

  /**
   * Makes sure every budget in another currency knows the pinned rate of its window at `now`: from the stored
   * definition, else read now and pinned through the store. Returns `undefined` (nothing to wait for) when every pin
   * is known, which is every call but the first of a window.
   *
   * @throws BudgetConfigError when a rate is missing or bad, or the rate function fails (nothing was reserved).
   */
  ensure(budgets: readonly (B | null)[], now: number): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined
    for (const budget of budgets) {
      const state = budget?.currency
      if (budget === null || budget === undefined || state === null || state === undefined) continue
      const key = pinKey(this.#host.spec(budget), this.#host.window(budget, now))
      if (state.key === key || state.stored.rates?.[key] !== undefined) continue
      ;(waits ??= []).push(
        this.#pin(budget.scopeString, state.code, key, now).then((pin) => {
          state.stored.rates = withPin(state.stored.rates, key, pin)
        }),
      )
    }
    return waits === undefined ? undefined : Promise.all(waits).then(() => undefined)
  }

  /**
   * Compiles each budget in another currency at the pinned rate of its window at `now` (after {@link ensure}).
   * Synchronous, so the limits and the plan built right after it belong to the same window.
   */
  apply(budgets: readonly (B | null)[], now: number): void {
    for (const budget of budgets) {
      const state = budget?.currency
      if (budget === null || budget === undefined || state === null || state === undefined) continue
      const key = pinKey(this.#host.spec(budget), this.#host.window(budget, now))
      if (state.key === key) continue
      const pin = state.stored.rates?.[key]
      if (pin === undefined) throw new Error(`internal: no exchange rate pinned for ${budget.scopeString} ${key}`)
      state.key = key
      state.pin = pin
      this.#host.recompile(budget, pin.rate)
    }
  }

  /**
   * Fields a spend record keeps about the rates it used: `currency` and `rate` of the first budget (in scope order) in another
   * currency, and `rates` (code to rate) when budgets in several currencies applied; `undefined` for USD only.
   */
  recordFields(budgets: readonly (B | null)[]): Record<string, JsonValue> | undefined {
    let fields: Record<string, JsonValue> | undefined
    let rates: Record<string, number> | undefined
    for (const budget of budgets) {
      const state = budget?.currency
      if (state === null || state === undefined || state.pin === null) continue
      if (fields === undefined) {
        fields = { currency: state.code, rate: state.pin.rate }
        rates = { [state.code]: state.pin.rate }
      } else rates![state.code] = state.pin.rate
    }
    if (fields !== undefined && Object.keys(rates!).length > 1) fields.rates = rates!
    return fields
  }

  /**
   * The rate a write of `definition` pins for its current window (read now), or `undefined` for a USD budget.
   * Read before the write, so a currency without a rate is refused with nothing written.
   */
  async rateForWrite(definition: BudgetDefinition, now: number): Promise<PinnedRate | undefined> {
    const code = foreignCurrency(definition)
    return code === null ? undefined : rateAt(this.#rates, code, now)
  }

  /**
   * The definition to write: `next` with the pins of `current` when the currency is unchanged (a window keeps its
   * rate through an update), except the `all` pin of a budget without a window (pinned again by each write), plus
   * `fresh` for the current window when it has no pin yet. A USD budget keeps no pins.
   */
  pinsForWrite(
    current: StoredDefinition | null,
    next: StoredDefinition,
    fresh: PinnedRate | undefined,
    now: number,
  ): StoredDefinition {
    const { rates: _dropped, ...rest } = next
    if (fresh === undefined) return rest
    const same = current !== null && current.definition.currency === next.definition.currency
    const kept: Record<string, PinnedRate> = {}
    if (same)
      for (const [k, v] of Object.entries(current.rates ?? {}))
        if (k !== 'all')
          Object.defineProperty(kept, k, { value: v, enumerable: true, writable: true, configurable: true })
    const { spec, window } = windowOfDefinition(next, now)
    const key = pinKey(spec, window)
    return { ...rest, rates: withPin(kept, key, kept[key] ?? fresh) }
  }

  /** Reads the rate of `code` and pins it for `key` in the stored budget, unless another instance pinned it first. */
  #pin(scope: string, code: string, key: string, now: number): Promise<PinnedRate> {
    const id = `${scope}|${key}`
    let pending = this.#pending.get(id)
    if (pending === undefined) {
      pending = this.#pinOnce(scope, code, key, now).finally(() => this.#pending.delete(id))
      this.#pending.set(id, pending)
    }
    return pending
  }

  async #pinOnce(scope: string, code: string, key: string, now: number): Promise<PinnedRate> {
    const store = this.#store
    let fresh: PinnedRate | undefined
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const current: StoredBudget | null = await storeCall(store.name, () => store.getBudget(scope))
      const stored = current === null ? null : fromStoredJson(current.definition, current.createdAt)
      const pinned = stored?.definition.currency === code ? stored.rates?.[key] : undefined
      if (pinned !== undefined) return pinned
      fresh ??= await rateAt(this.#rates, code, now)
      // Deleted, or changed to another currency, since this instance read it: use the rate for this call only.
      if (current === null || stored === null || stored.definition.currency !== code) return fresh
      const next: StoredDefinition = { ...stored, rates: withPin(stored.rates, key, fresh) }
      const definition = stored.definition as unknown as Record<string, JsonValue>
      const result = await storeCall(store.name, () =>
        store.putBudget({
          scope,
          definition: toStoredJson(next),
          history: {
            scope,
            action: 'update',
            at: now,
            old: definition,
            new: { ...definition, rate: { window: key, rate: fresh!.rate, at: fresh!.at } },
            reason: `exchange rate pinned for window ${key}: 1 ${code} = ${fresh!.rate} USD`,
          },
          now,
          ifRevision: current.revision,
        }),
      )
      if (result.ok) return fresh
    }
    throw new StorageError(
      store.name,
      `budget ${scope} kept changing concurrently while pinning its exchange rate; try again`,
      {
        retryable: true,
      },
    )
  }
}

/** Amounts of a status in nano-USD. */
export interface StatusNano {
  spent: number
  reserved: number
  limit: number | null
  remaining: number | null
  projected: number
}

/** The money fields of a status in the budget's currency, with the USD amounts alongside. */
export function statusMoney(
  state: CurrencyState | null,
  nano: StatusNano,
): {
  currency: string
  rate: number
  rateAt: Date | null
  spend: number
  reserved: number
  limit: number | null
  remaining: number | null
  projectedSpend: number
  usd: { spend: number; reserved: number; limit: number | null; remaining: number | null; projectedSpend: number }
} {
  const usd = {
    spend: nanoToUsd(nano.spent),
    reserved: nanoToUsd(nano.reserved),
    limit: nano.limit === null ? null : nanoToUsd(nano.limit),
    remaining: nano.remaining === null ? null : nanoToUsd(nano.remaining),
    projectedSpend: nanoToUsd(nano.projected),
  }
  if (state === null || state.pin === null) return { currency: 'USD', rate: 1, rateAt: null, ...usd, usd }
  const rate = state.pin.rate
  // Rounded to whole nano-units of the currency, so €100 at 1.08 reads back as 100, not 100.00000000000001.
  const local = (n: number): number => Math.round(nanoToCurrency(n, rate) * 1e9) / 1e9
  return {
    currency: state.code,
    rate,
    rateAt: new Date(state.pin.at),
    spend: local(nano.spent),
    reserved: local(nano.reserved),
    limit: nano.limit === null ? null : local(nano.limit),
    remaining: nano.remaining === null ? null : local(nano.remaining),
    projectedSpend: local(nano.projected),
    usd,
  }
}
