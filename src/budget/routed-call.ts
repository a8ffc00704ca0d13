/**
 * Routing through the wrappers: `withBudget(fn, { deployments })` and the integrations' `deployments` option pick a
 * deployment with `selectDeployment` (the choice and the reservation are one atomic step), call with the chosen
 * deployment's model, and settle on the chosen deployment. A call that fails after it was routed is not retried on
 * another deployment: the hold is released and the error is the caller's (see docs/decisions/0115-routing-and-cache-in-the-wrappers.md).
 *
 * @packageDocumentation
 */
import { BudgetConfigError, InvalidInputError } from '../errors.js'
import { describeValue } from '../internal/describe.js'
import type { Estimate, Reservation } from './manager-types.js'
import { checkDeployments, type Deployment, type RoutingEstimate, type RoutingStrategy } from './routing.js'
import type { CallContext } from './scopes.js'

/** A wrapper's validated routing options. */
export interface WrapperRouting {
  deployments: readonly Deployment[]
  strategy: RoutingStrategy
}

/** What routing needs of the manager: its `selectDeployment`. */
interface DeploymentSelector {
  selectDeployment(
    deployments: readonly Deployment[],
    options: { context?: CallContext | undefined; estimate: RoutingEstimate; strategy?: RoutingStrategy | undefined },
  ): Promise<{ deployment: Deployment; reservation: Reservation }>
}

/**
 * The routing options of a wrapper, checked when it is built: `undefined` without `deployments`; a
 * `BudgetConfigError` naming the option for an empty list, a bad deployment, an unknown strategy, or a manager
 * that cannot route.
 */
export function wrapperRouting(
  where: string,
  manager: unknown,
  deployments: unknown,
  strategy: unknown,
): WrapperRouting | undefined {
  if (deployments === undefined) {
    if (strategy !== undefined)
      throw new BudgetConfigError('strategy', `${where}: \`strategy\` needs \`deployments\` to choose among`)
    return undefined
  }
  let checked: RoutingStrategy
  try {
    checked = checkDeployments(deployments as readonly Deployment[], strategy)
  } catch (error) {
    if (error instanceof InvalidInputError)
      throw new BudgetConfigError(error.field, `${where}: ${error.message}`, { cause: error })
    throw error
  }
  if (typeof (manager as Partial<DeploymentSelector> | null)?.selectDeployment !== 'function')
    throw new BudgetConfigError(
      'manager',
      `${where}: \`deployments\` needs a manager with selectDeployment() (a BudgetManager), got ${describeValue(manager)}`,
    )
  // A copy, so that a later change to the caller's array does not change what the wrapper routes to.
  return { deployments: (deployments as Deployment[]).map((d) => ({ ...d })), strategy: checked }
}

/**
 * The token counts of a call's estimate, priced per deployment: the request's model and provider are dropped (each
 * deployment brings its own). A USD amount cannot be priced per deployment: `InvalidInputError`.
 */
export function routingEstimate(estimate: Estimate | RoutingEstimate): RoutingEstimate {
  if (typeof estimate !== 'object' || estimate === null) {
    throw new InvalidInputError(
      'estimate',
      `with \`deployments\`, \`estimate\` must be token counts ({ inputTokens | messages, maxOutputTokens }) priced per deployment, got ${describeValue(estimate)}`,
    )
  }
  const out: RoutingEstimate = {}
  if (estimate.inputTokens !== undefined) out.inputTokens = estimate.inputTokens
  else if (estimate.messages !== undefined) out.messages = estimate.messages as RoutingEstimate['messages']
  if (estimate.maxOutputTokens !== undefined) out.maxOutputTokens = estimate.maxOutputTokens
  return out
}

/** Picks a deployment and holds its budgets, atomically (see `BudgetManager.selectDeployment`). */
export function routeCall(
  manager: unknown,
  routing: WrapperRouting,
  context: CallContext,
  estimate: Estimate | RoutingEstimate,
): Promise<{ deployment: Deployment; reservation: Reservation }> {
  return (manager as DeploymentSelector).selectDeployment(routing.deployments, {
    context,
    estimate: routingEstimate(estimate),
    strategy: routing.strategy,
  })
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/**
 * The default `applyModel` of a routed `withBudget`: the first argument is a request object (`{ model, ... }`, the
 * OpenAI, Anthropic and most SDK shapes), and gets the deployment's model; the other arguments are kept.
 *
 * @throws InvalidInputError when the first argument is not a plain object (pass your own `applyModel`).
 */
export function applyModelToRequest(args: readonly unknown[], model: string): unknown[] {
  const request = args[0]
  if (!isPlainObject(request)) {
    throw new InvalidInputError(
      'applyModel',
      `withBudget with \`deployments\` sets the deployment's model on the first argument (\`{ model, ... }\`), but it is ${describeValue(request)}; pass \`applyModel: (args, model, deployment) => newArgs\``,
    )
  }
  return [{ ...request, model }, ...args.slice(1)]
}
