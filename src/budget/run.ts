/**
 * Run budgets: `manager.run({ maxBudget }, async (run) => ...)` gives one agent run or session a budget of its own.
 * Every budgeted call made inside it (through the manager, `withBudget` or any integration) reserves on the run's
 * ledger key as well as on its scopes' keys, in the same atomic store call; a nested run reserves on its own key and
 * on every ancestor's, so a child can never spend more than its parent has left.
 *
 * On Node (20.16+ / 22.3+), Bun, Deno and Workers with `AsyncLocalStorage`, calls inside `fn` find the run by
 * themselves. Elsewhere, pass the run in the call's context (`{ user: 'alice', run }` or `run.context({ user })`).
 *
 * A run's key is `r:<id>|all|usd`; every reservation and commit pushes its expiry to `ttlMs` after that call, so the
 * store forgets a finished run by itself.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { BudgetConfigError, InvalidInputError } from '../errors.js'
import { parseOptions } from '../internal/options.js'
import { describeValue } from '../internal/describe.js'
import { ledgerKey, runPrefix } from '../stores/ledger/keys.js'
import type { BudgetStore } from '../stores/types.js'
import { MAX_USD, formatNano, nanoToUsd, usdToNano } from './money.js'
import type { CallContext } from './scopes.js'
import { validateId } from './scopes.js'

/** Options of `manager.run()`. */
export interface RunOptions {
  /** Hard limit in USD for everything the run spends (a nested run is also capped by what its parents have left). */
  maxBudget: number
  /** A name for refusals, events and `run.name` (the run's key uses a random id). */
  name?: string | undefined
  /**
   * The parent run. Default: the run this one is started in (found through `AsyncLocalStorage`), if it uses the same
   * store; `null` starts a top-level run even inside another.
   */
  parent?: BudgetRun | null | undefined
  /** How long the store keeps the run's balance after its last call, ms. Default 86,400,000 (a day). */
  ttlMs?: number | undefined
}

/** A run's spend, holds and limit (USD; exact decimal strings in `exact`). */
export interface RunStatus {
  /** The run's id (random, unique). */
  id: string
  /** The run's name, or `null`. */
  name: string | null
  /** Committed spend of every call made in the run (nested runs included). */
  spent: number
  /** Held by calls of the run still in flight. */
  reserved: number
  /** The run's own `maxBudget`. */
  limit: number
  /** `limit - spent - reserved`, never below 0 (a parent may leave less). */
  remaining: number
  exact: { spent: string; reserved: string; limit: string; remaining: string }
}

/**
 * A run budget, passed to the function of `manager.run()`.
 *
 * @example
 * ```ts
 * const answer = await budgets.run({ maxBudget: 0.5, name: 'research-agent' }, async (run) => {
 *   const result = await agent.invoke(task) // every budgeted call inside draws on the run's $0.50
 *   console.log(`spent $${await run.spent()}`)
 *   return result
 * })
 * ```
 */
export interface BudgetRun {
  /** Random id of the run (its ledger key is built from it). */
  readonly id: string
  /** The name given in the options, or `null`. */
  readonly name: string | null
  /** The run's `maxBudget`, USD. */
  readonly limit: number
  /** The enclosing run whose remainder caps this one, or `null`. */
  readonly parent: BudgetRun | null
  /** When the run started. */
  readonly startedAt: Date
  /**
   * True when calls inside the run's function find it by themselves (`AsyncLocalStorage`); false where there is
   * none, and calls must carry the run in their context (`run.context(...)`).
   */
  readonly automatic: boolean
  /** USD committed by the calls of this run so far (read from the store: every instance's view agrees). */
  spent(): Promise<number>
  /** Spend, holds, limit and remainder of the run. */
  status(): Promise<RunStatus>
  /** A call context that names this run: `run.context({ user: 'alice' })` is `{ user: 'alice', run }`. */
  context<C extends CallContext>(context?: C): C & { run: BudgetRun }
}

/** How refusals and events name a run budget: `run:<name>` (or `run:<id>` for a run without a name). */
export type RunScopeString = `run:${string}`

/** What the manager needs of a run to plan a call on it. */
export interface RunLedger {
  /** `run:<name or id>`: how refusals and events name it. */
  readonly scopeString: RunScopeString
  readonly key: string
  readonly limitNano: number
  readonly ttlMs: number
}

interface RunState extends RunLedger {
  readonly store: BudgetStore
  readonly clock: { now(): number }
  readonly parentState: RunState | null
  /** The run that was active where this one started (possibly of another store), for lookups by store. */
  readonly enclosing: BudgetRun | null
}

/** Most nested runs (each adds one ledger key to every call inside). */
export const MAX_RUN_DEPTH = 16
const DEFAULT_RUN_TTL_MS = 86_400_000
const states = new WeakMap<BudgetRun, RunState>()

interface AsyncStorage<T> {
  run<R>(store: T, fn: () => R): R
  getStore(): T | undefined
}

let storage: AsyncStorage<BudgetRun> | null | undefined

/** `AsyncLocalStorage` where the runtime has one (global on Workers, `node:async_hooks` elsewhere), else `null`. */
function asyncStorage(): AsyncStorage<BudgetRun> | null {
  if (storage !== undefined) return storage
  type Ctor = new () => AsyncStorage<BudgetRun>
  const g = globalThis as {
    AsyncLocalStorage?: Ctor
    process?: { getBuiltinModule?: (id: string) => { AsyncLocalStorage?: Ctor } | undefined }
  }
  let ctor = g.AsyncLocalStorage
  if (ctor === undefined) {
    try {
      ctor = g.process?.getBuiltinModule?.('node:async_hooks')?.AsyncLocalStorage
    } catch {
      ctor = undefined
    }
  }
  storage = ctor === undefined ? null : new ctor()
  return storage
}

function randomId(): string {
  const bytes = new Uint8Array(12)
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto
  if (c?.getRandomValues) c.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

class Run implements BudgetRun {
  readonly id: string
  readonly name: string | null
  readonly limit: number
  readonly parent: BudgetRun | null
  readonly startedAt: Date
  readonly automatic: boolean

  constructor(id: string, name: string | null, limit: number, parent: BudgetRun | null, startedAt: number) {
    this.id = id
    this.name = name
    this.limit = limit
    this.parent = parent
    this.startedAt = new Date(startedAt)
    this.automatic = asyncStorage() !== null
  }

  async spent(): Promise<number> {
    return (await this.status()).spent
  }

  async status(): Promise<RunStatus> {
    const state = states.get(this)!
    const [balance] = await state.store.balances({ keys: [state.key], now: state.clock.now() })
    const spent = balance?.spent ?? 0
    const reserved = balance?.reserved ?? 0
    const remaining = Math.max(0, state.limitNano - spent - reserved)
    return {
      id: this.id,
      name: this.name,
      spent: nanoToUsd(spent),
      reserved: nanoToUsd(reserved),
      limit: this.limit,
      remaining: nanoToUsd(remaining),
      exact: {
        spent: formatNano(spent),
        reserved: formatNano(reserved),
        limit: formatNano(state.limitNano),
        remaining: formatNano(remaining),
      },
    }
  }

  context<C extends CallContext>(context?: C): C & { run: BudgetRun } {
    return { ...(context ?? ({} as C)), run: this }
  }
}

const RUN_OPTIONS = z.object({
  maxBudget: z
    .number({ error: 'must be a number of USD' })
    .refine((n) => Number.isFinite(n) && n >= 0 && n <= MAX_USD, {
      message: `must be a finite number of USD from 0 to ${MAX_USD}`,
    }),
  name: z.string({ error: 'must be a string' }).optional(),
  parent: z.unknown().optional(),
  ttlMs: z
    .number({ error: 'must be a whole number of milliseconds' })
    .int({ message: 'must be a whole number of milliseconds' })
    .positive({ message: 'must be a whole number of milliseconds' })
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
})

/** True once a run has been started in this process (before that, calls skip the lookup). */
let anyRun = false

/** The innermost active run (in the async context) that uses `store`, or `null`. */
function activeRun(store: BudgetStore): BudgetRun | null {
  if (!anyRun) return null
  let run = asyncStorage()?.getStore() ?? null
  while (run !== null) {
    const state = states.get(run)
    if (state === undefined) return null
    if (state.store === store) return run
    run = state.enclosing
  }
  return null
}

function stateOf(
  field: string,
  value: unknown,
  store: BudgetStore,
  ErrorType: typeof InvalidInputError | typeof BudgetConfigError = InvalidInputError,
): RunState {
  const state = typeof value === 'object' && value !== null ? states.get(value as BudgetRun) : undefined
  if (state === undefined)
    throw new ErrorType(
      field,
      `\`${field}\` must be a run passed to the function of manager.run(), got ${describeValue(value, 40)}`,
    )
  if (state.store !== store)
    throw new ErrorType(field, `\`${field}\` is a run of a manager on another store; runs count on one store`)
  return state
}

/**
 * Runs `fn` inside a new run budget on `store`. `holdTtlMs` is the manager's: a run's key outlives its holds.
 *
 * @throws BudgetConfigError for bad options (nothing started).
 */
export async function startRun<T>(
  store: BudgetStore,
  clock: { now(): number },
  holdTtlMs: number,
  options: RunOptions,
  fn: (run: BudgetRun) => T | Promise<T>,
): Promise<T> {
  const parsed = parseOptions('manager.run()', RUN_OPTIONS, options)
  if (typeof fn !== 'function')
    throw new InvalidInputError('fn', '`manager.run(options, fn)` needs a function to run inside the budget')
  const limitNano = usdToNano(parsed.maxBudget, 'maxBudget')
  let name: string | null = null
  if (parsed.name !== undefined) {
    try {
      name = validateId('name', parsed.name)
    } catch (error) {
      throw new BudgetConfigError('name', `manager.run(): ${(error as Error).message}`, { cause: error })
    }
  }
  const ttlMs = parsed.ttlMs ?? DEFAULT_RUN_TTL_MS
  if (ttlMs < holdTtlMs)
    throw new BudgetConfigError(
      'ttlMs',
      `manager.run(): \`ttlMs\` must be at least the manager's hold TTL (${holdTtlMs} ms) so a run's balance outlives its holds, got ${ttlMs}`,
    )
  const enclosing = asyncStorage()?.getStore() ?? null
  const parent = options.parent === undefined ? activeRun(store) : options.parent
  const parentState = parent === null ? null : stateOf('parent', parent, store, BudgetConfigError)
  let depth = 1
  for (let p = parentState; p !== null; p = p.parentState) depth++
  if (depth > MAX_RUN_DEPTH)
    throw new BudgetConfigError('parent', `runs nest at most ${MAX_RUN_DEPTH} deep; this one would be ${depth}`)
  anyRun = true
  const id = randomId()
  const run = new Run(id, name, nanoToUsd(limitNano), parent, clock.now())
  states.set(run, {
    scopeString: `run:${name ?? id}`,
    key: ledgerKey(runPrefix(id), 'all', 'usd'),
    limitNano,
    ttlMs,
    store,
    clock,
    parentState,
    enclosing,
  })
  const als = asyncStorage()
  return als === null ? await fn(run) : await als.run(run, () => fn(run))
}

/**
 * The run a call draws on, innermost first, with every ancestor: the context's `run` when it names one, else the
 * run active in the async context for this store. Empty outside any run.
 *
 * @throws InvalidInputError when `context.run` is not a run of this store.
 */
export function runChain(context: CallContext, store: BudgetStore): readonly RunLedger[] {
  const explicit = context.run
  let state: RunState | null
  if (explicit !== undefined) state = stateOf('context.run', explicit, store)
  else {
    const run = activeRun(store)
    state = run === null ? null : states.get(run)!
  }
  if (state === null) return NO_RUNS
  const chain: RunLedger[] = []
  for (let s: RunState | null = state; s !== null; s = s.parentState) chain.push(s)
  return chain
}

const NO_RUNS: readonly RunLedger[] = []
