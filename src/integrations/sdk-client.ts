/**
 * Budgeting a Stainless-generated SDK client (openai, @anthropic-ai/sdk): a `withOptions({ fetch })` clone whose
 * fetch is the budgeted one, with refusal responses turned back into the budget's errors.
 *
 * @packageDocumentation
 */
import {
  createBudgetFetch,
  RefusalRegistry,
  refuseBudgetedTwice,
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
  where: string,
): T {
  const refusals = new RefusalRegistry()
  const baseFetch = (client as unknown as { fetch?: FetchLike }).fetch ?? globalThis.fetch
  refuseBudgetedTwice(where, baseFetch)
  const budgetFetch = createBudgetFetch(
    adapter,
    options,
    (input, init) => baseFetch.call(undefined, input, init),
    refusals,
  )
  return installRefusalMapping(client.withOptions({ fetch: budgetFetch }) as T, refusals)
}

/** A promise-like whose rejection is mapped; keeps every other member (e.g. `withRawResponse()`). */
function mapThenable<T extends object>(thenable: T, refusals: RefusalRegistry): T {
  let mapped: Promise<unknown> | undefined
  const settled = () =>
    (mapped ??= new Promise((resolve, reject) => {
      ;(thenable as unknown as PromiseLike<unknown>).then(resolve, (error: unknown) => reject(refusals.map(error)))
    }))
  return new Proxy(thenable, {
    get(target, prop) {
      if (prop === 'then' || prop === 'catch' || prop === 'finally') {
        const promise = settled()
        const method = (promise as unknown as Record<PropertyKey, unknown>)[prop] as (...args: unknown[]) => unknown
        return method.bind(promise)
      }
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => mapResult((value as (...a: unknown[]) => unknown).apply(target, args), refusals)
    },
  })
}

function mapResult(result: unknown, refusals: RefusalRegistry): unknown {
  const then = (result as { then?: unknown } | null)?.then
  if (typeof result === 'object' && result !== null && typeof then === 'function') return mapThenable(result, refusals)
  return result
}

/**
 * For SDK clients that are not Stainless-generated (Mistral's Speakeasy client, Cohere's Fern client): a view of
 * `client` whose methods, on the client and on its resource objects (`client.chat.complete`), raise the original
 * budget error instead of the SDK error a refusal response became. Methods run on the real objects (private fields
 * work); promise-like results keep their extra members.
 */
export function mapRefusals<T extends object>(client: T, refusals: RefusalRegistry): T {
  const views = new WeakMap<object, object>()
  const view = <O extends object>(object: O): O => {
    const existing = views.get(object)
    if (existing !== undefined) return existing as O
    const proxy = new Proxy(object, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target)
        if (typeof value === 'function' && prop !== 'constructor')
          return (...args: unknown[]) =>
            mapResult((value as (...a: unknown[]) => unknown).apply(target, args), refusals)
        if (typeof value === 'object' && value !== null && typeof prop === 'string' && !prop.startsWith('_'))
          return view(value)
        return value
      },
    })
    views.set(object, proxy)
    return proxy
  }
  return view(client)
}
