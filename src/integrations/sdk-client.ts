/**
 * Budgeting a Stainless-generated SDK client (openai, @anthropic-ai/sdk): a `withOptions({ fetch })` clone whose
 * fetch is the budgeted one, with refusal responses turned back into the budget's errors.
 *
 * @packageDocumentation
 */
import {
  createBudgetFetch,
  RefusalRegistry,
  type FetchLike,
  type WireAdapter,
  type WireRequest,
} from './budget-fetch.js'
import type { BudgetIntegrationOptions } from './options.js'

/**
 * Install the refusal mapping on a Stainless-generated SDK client (openai, @anthropic-ai/sdk): errors raised
 * from a refusal response become the original budget error again. Also applies to clients derived with
 * `withOptions()`.
 */
export function installRefusalMapping<T extends object>(client: T, refusals: RefusalRegistry): T {
  const target = client as unknown as {
    makeRequest?: (...args: unknown[]) => Promise<unknown>
    withOptions?: (...args: unknown[]) => object
  }
  const makeRequest = target.makeRequest
  if (typeof makeRequest === 'function') {
    target.makeRequest = function (this: unknown, ...args: unknown[]) {
      return makeRequest.apply(this, args).catch((error: unknown) => {
        throw refusals.map(error)
      })
    }
  }
  const withOptions = target.withOptions
  if (typeof withOptions === 'function') {
    target.withOptions = function (this: unknown, ...args: unknown[]) {
      return installRefusalMapping(withOptions.apply(this, args), refusals)
    }
  }
  return client
}

/**
 * A budgeted clone of a Stainless-generated SDK client (openai, @anthropic-ai/sdk): `client.withOptions({ fetch })`
 * with the budgeted fetch for `adapter`, and the refusal mapping installed. The original client is untouched.
 */
export function budgetClient<T extends { withOptions(options: { fetch: FetchLike }): unknown }>(
  client: T,
  adapter: WireAdapter,
  options: BudgetIntegrationOptions<WireRequest>,
): T {
  const refusals = new RefusalRegistry()
  const baseFetch = (client as unknown as { fetch?: FetchLike }).fetch ?? globalThis.fetch
  const budgetFetch = createBudgetFetch(
    adapter,
    options,
    (input, init) => baseFetch.call(undefined, input, init),
    refusals,
  )
  return installRefusalMapping(client.withOptions({ fetch: budgetFetch }) as T, refusals)
}
