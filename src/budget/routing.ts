/**
 * Budget-aware routing: choose a deployment for a call and hold its budget in one step.
 *
 * Candidates are ordered by the strategy, then tried one by one with an ordinary atomic reservation on every budget
 * that applies to that deployment (provider, `deployment:<id>`, model, tags, and the caller's own scopes). The
 * first reservation that succeeds is the choice, so concurrent callers can never both pick a deployment whose
 * budgets hold only one of them: the loser's reservation is refused and it moves on to the next candidate.
 */
import { z } from 'zod'
import { estimateCost } from '../cost/calculate.js'
import type { PriceCatalog } from '../cost/catalog.js'
import {
  BudgetExceededError,
  InvalidInputError,
  isBudgetError,
  type DeploymentRefusal,
  type RateLimitError,
} from '../errors.js'
import { describeValue } from '../internal/describe.js'
import { closest } from '../internal/suggest.js'
import type { CallContext, ScopeInput, ScopeString } from './scopes.js'

/** One place a call can go: a model at a provider, e.g. an Azure deployment or a second provider of the same model. */
export interface Deployment {
  /** Unique id; counts against `deployment:<id>` budgets. */
  id: string
  /** Model to call (a catalog name), priced per deployment. */
  model: string
  /** Provider (LiteLLM names: `openai`, `azure`, `anthropic`, ...); counts against `provider:<name>` budgets. */
  provider?: string | undefined
  /** Tags; each counts against its `tag:<name>` budget. */
  tags?: readonly string[] | undefined
  /** Relative weight for the `weighted` strategy (default 1). */
  weight?: number | undefined
  /** Position for the `priority` strategy, lowest first (default: the deployment's index in the list). */
  order?: number | undefined
}

/** How candidates are ordered before they are tried. */
export type RoutingStrategy = 'lowest-cost' | 'priority' | 'weighted' | 'least-spend'

/** The token counts a call will need, priced for each deployment's model. */
export interface RoutingEstimate {
  /** Input tokens, when known. */
  inputTokens?: number | undefined
  /** Messages, when tokens are not known (estimated from characters with a margin). */
  messages?: readonly { role?: string; content?: unknown }[] | string | undefined
  /** Output cap of the request (`max_tokens`); default the model's maximum output. */
  maxOutputTokens?: number | undefined
}

/** Options of `BudgetManager.selectDeployment`. */
export interface SelectDeploymentOptions {
  /** Who the call counts against, besides the deployment's own scopes. */
  context?: CallContext | undefined
  /** Token counts to price per deployment and reserve. */
  estimate: RoutingEstimate
  /** Default `lowest-cost`. */
  strategy?: RoutingStrategy | undefined
  /** Your own call id for the reservation. */
  callId?: string | undefined
}

/** What the router needs of the manager: its reservation, its catalog, budget status and randomness. */
export interface RoutingHost<R> {
  catalog: PriceCatalog
  reserve(
    context: CallContext,
    estimate: { model: string; provider?: string | undefined } & RoutingEstimate,
    options: { callId?: string | undefined },
  ): Promise<R>
  /** Fraction of budget left (0..1) over the scopes of a deployment; 1 when none has a budget. */
  remainingFraction(scopes: ScopeString[]): Promise<number>
  random(): number
}

const STRATEGIES = ['lowest-cost', 'priority', 'weighted', 'least-spend'] as const
const name = z.string().min(1).max(256)
const deploymentSchema = z.strictObject({
  id: name,
  model: name,
  provider: name.optional(),
  tags: z.array(name).max(32).optional(),
  weight: z.number().finite().positive().optional(),
  order: z.number().finite().optional(),
})

function fail(field: string, message: string): never {
  throw new InvalidInputError(field, message)
}

function validate(deployments: readonly Deployment[], strategy: unknown): RoutingStrategy {
  if (!Array.isArray(deployments) || deployments.length === 0) {
    fail(
      'deployments',
      `\`deployments\` must be a non-empty array of { id, model, provider?, tags?, weight? }, got ${describeValue(deployments)}`,
    )
  }
  if (deployments.length > 256) fail('deployments', `at most 256 deployments, got ${deployments.length}`)
  const seen = new Set<string>()
  deployments.forEach((d, i) => {
    const parsed = deploymentSchema.safeParse(d)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      fail(
        `deployments[${i}].${issue.path.join('.')}`,
        `\`deployments[${i}].${issue.path.join('.')}\`: ${issue.message}`,
      )
    }
    if (seen.has(d.id))
      fail(`deployments[${i}].id`, `deployment id ${describeValue(d.id)} appears twice; ids must be unique`)
    seen.add(d.id)
  })
  const chosen = strategy ?? 'lowest-cost'
  if (typeof chosen !== 'string' || !(STRATEGIES as readonly string[]).includes(chosen)) {
    const hint = typeof chosen === 'string' ? closest(chosen, STRATEGIES) : undefined
    fail(
      'strategy',
      `\`strategy\` must be one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}, got ${describeValue(chosen)}${hint ? `; did you mean '${hint}'?` : ''}`,
    )
  }
  return chosen as RoutingStrategy
}

/** The scopes a deployment adds to the caller's context. */
function deploymentContext(context: CallContext, d: Deployment): CallContext {
  const tags = [...new Set([...(context.tags ?? []), ...(d.tags ?? [])])]
  return {
    ...context,
    model: d.model,
    deployment: d.id,
    ...(d.provider !== undefined ? { provider: d.provider } : {}),
    ...(tags.length > 0 ? { tags } : {}),
  }
}

/** Weighted order without replacement (Efraimidis-Spirakis keys): heavier deployments tend to come first. */
function weightedOrder(deployments: Deployment[], random: () => number): Deployment[] {
  return deployments
    .map((d) => ({ d, key: Math.pow(Math.max(random(), Number.MIN_VALUE), 1 / (d.weight ?? 1)) }))
    .sort((a, b) => b.key - a.key)
    .map(({ d }) => d)
}

async function orderCandidates<R>(
  host: RoutingHost<R>,
  deployments: Deployment[],
  strategy: RoutingStrategy,
  estimate: RoutingEstimate,
): Promise<Deployment[]> {
  // Price every candidate first: an unknown model is an error before anything is held, whatever the strategy.
  const costs = new Map(
    deployments.map((d) => [
      d.id,
      estimateCost({ ...estimate, model: d.model, provider: d.provider, catalog: host.catalog }).nanoUsd,
    ]),
  )
  const indexed = deployments.map((d, index) => ({ d, index }))
  switch (strategy) {
    case 'lowest-cost':
      return indexed.sort((a, b) => costs.get(a.d.id)! - costs.get(b.d.id)! || a.index - b.index).map(({ d }) => d)
    case 'priority':
      return indexed
        .sort((a, b) => (a.d.order ?? a.index) - (b.d.order ?? b.index) || a.index - b.index)
        .map(({ d }) => d)
    case 'weighted':
      return weightedOrder(deployments, host.random)
    case 'least-spend': {
      const remaining = await Promise.all(
        deployments.map((d) =>
          host.remainingFraction([
            `deployment:${d.id}`,
            ...(d.provider !== undefined ? [`provider:${d.provider}` as const] : []),
          ]),
        ),
      )
      return indexed.sort((a, b) => remaining[b.index]! - remaining[a.index]! || a.index - b.index).map(({ d }) => d)
    }
  }
}

/**
 * Picks a deployment whose budgets admit the call and reserves it there, atomically per candidate. Throws
 * `BudgetExceededError` naming what refused each candidate when none fits; `InvalidInputError` (nothing held) for
 * bad input; `UnknownModelError` when a deployment's model has no price; `StorageError` as `reserve` does.
 */
export async function selectDeployment<R>(
  host: RoutingHost<R>,
  deployments: readonly Deployment[],
  options: SelectDeploymentOptions,
): Promise<{ deployment: Deployment; reservation: R }> {
  if (typeof options !== 'object' || options === null)
    fail('options', '`selectDeployment` takes { context?, estimate, strategy? }')
  const strategy = validate(deployments, options.strategy)
  if (typeof options.estimate !== 'object' || options.estimate === null) {
    fail(
      'estimate',
      `\`estimate\` must be { inputTokens | messages, maxOutputTokens }, got ${describeValue(options.estimate)}`,
    )
  }
  const candidates = await orderCandidates(host, [...deployments], strategy, options.estimate)
  const refused: { deployment: string; error: BudgetExceededError | RateLimitError }[] = []
  for (const d of candidates) {
    const context = deploymentContext(options.context ?? {}, d)
    try {
      // A refused reservation changes nothing, so the same call id can be tried on the next candidate.
      const reservation = await host.reserve(
        context,
        { ...options.estimate, model: d.model, provider: d.provider },
        { callId: options.callId },
      )
      return { deployment: d, reservation }
    } catch (error) {
      if (isBudgetError(error) && (error.code === 'BUDGET_EXCEEDED' || error.code === 'RATE_LIMITED')) {
        refused.push({ deployment: d.id, error: error as BudgetExceededError | RateLimitError })
        continue
      }
      throw error
    }
  }
  throw noDeploymentFits(refused)
}

function noDeploymentFits(
  refused: { deployment: string; error: BudgetExceededError | RateLimitError }[],
): BudgetExceededError {
  const refusals: DeploymentRefusal[] = refused.map(({ deployment, error }) => ({
    deployment,
    scope: error.scope,
    message: error.message,
  }))
  const budget = refused.find((r) => r.error instanceof BudgetExceededError)?.error as BudgetExceededError | undefined
  const first = refused[0]!.error
  const details = budget ?? {
    scope: first.scope,
    limit: 0,
    spent: 0,
    reserved: 0,
    requested: 0,
    resetsAt: null,
    retryAfterMs: first.retryAfterMs,
  }
  return new BudgetExceededError({ ...details, refusals }, { cause: refused.map((r) => r.error) })
}

/** The parts of `BudgetManager` the router uses (its public reservation and status). */
export interface RoutedManager<R> {
  reserve(
    context: CallContext,
    estimate: { model: string; provider?: string | undefined } & RoutingEstimate,
    options: { callId?: string | undefined },
  ): Promise<R>
  getStatus(scope: ScopeInput): Promise<{ limit: number | null; remaining: number | null }>
}

/** A {@link RoutingHost} over a manager: remaining fractions come from `getStatus` (budgets without a limit count as 1). */
export function routingHost<R>(
  manager: RoutedManager<R>,
  catalog: PriceCatalog,
  random: () => number = Math.random,
): RoutingHost<R> {
  return {
    catalog,
    reserve: (context, estimate, options) => manager.reserve(context, estimate, options),
    async remainingFraction(scopes) {
      let fraction = 1
      for (const scope of scopes) {
        // A scope without a budget (stored or default) does not limit the deployment.
        const status = await manager.getStatus(scope).catch((error: unknown) => {
          if (isBudgetError(error) && error.code === 'INVALID_INPUT') return null
          throw error
        })
        if (status === null) continue
        if (status.limit !== null && status.limit > 0 && status.remaining !== null)
          fraction = Math.min(fraction, status.remaining / status.limit)
      }
      return fraction
    },
    random,
  }
}
