/**
 * The store endpoints (`/v1/reserve`, `/v1/commit`, ...): each checks its body with zod, then with the ledger's
 * own validation (exactly as every store does), and runs one store operation on the tenant's view. Reserve and
 * commit bodies that zod would accept unchanged are recognised by `./fast-check.ts` without running zod.
 *
 * @internal Used by the handler.
 */
import type { z } from 'zod'
import * as ledger from '../stores/ledger/ledger.js'
import { validateRollupQuery } from '../stores/ledger/rollups.js'
import { InvalidInputError } from '../errors.js'
import { HttpError } from './errors.js'
import type { CommitRequest, PutBudgetRequest, RecordQuery, ReserveRequest, RollupQuery } from '../stores/types.js'
import { isPlainCommit, isPlainReserve } from './fast-check.js'
import type { Route } from './handler.js'
import * as schemas from './schemas.js'

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body)
  if (!result.success) {
    const issue = result.error.issues[0]
    const field = issue === undefined ? 'body' : schemas.fieldPath(issue.path)
    throw new InvalidInputError(field, `\`${field}\`: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}

/** The endpoints `httpStore` uses, one per store operation. */
export function storeRoutes(maxRecordsPerPage: number): Route[] {
  return [
    {
      name: 'reserve',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        // A body zod would return unchanged is used as it is; any other goes through zod (cleaned, or refused).
        const request = (isPlainReserve(body) ? body : parse(schemas.reserveSchema, body)) as ReserveRequest
        ledger.validateReserve(request)
        return store.reserve(request)
      },
    },
    {
      name: 'commit',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        const request = (isPlainCommit(body) ? body : parse(schemas.commitSchema, body)) as CommitRequest
        ledger.validateCommit(request)
        return store.commit(request)
      },
    },
    {
      name: 'release',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        const request = parse(schemas.releaseSchema, body)
        ledger.validateRelease(request)
        return store.release(request)
      },
    },
    {
      name: 'balances',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        const request = parse(schemas.keysSchema, body)
        ledger.validateKeys(request)
        return { balances: await store.balances(request) }
      },
    },
    {
      name: 'reset',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        const request = parse(schemas.keysSchema, body)
        ledger.validateKeys(request)
        await store.reset(request)
        return {}
      },
    },
    {
      name: 'budgets.get',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => ({
        budget: await store.getBudget(ledger.validateScope(parse(schemas.scopeSchema, body).scope)),
      }),
    },
    {
      name: 'budgets.put',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        const request = parse(schemas.putBudgetSchema, body) as PutBudgetRequest
        ledger.validatePutBudget(request)
        return store.putBudget(request)
      },
    },
    {
      name: 'budgets.list',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        parse(schemas.emptySchema, body)
        return { budgets: await store.listBudgets() }
      },
    },
    {
      name: 'budgets.history',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => ({
        history: await store.getHistory(ledger.validateScope(parse(schemas.scopeSchema, body).scope)),
      }),
    },
    {
      name: 'records',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        const query = parse(schemas.recordQuerySchema, body) as RecordQuery
        const pageSize = Math.min(query.limit ?? Number.POSITIVE_INFINITY, maxRecordsPerPage)
        // One more than the page tells the client whether to ask again.
        const records = await store.queryRecords({ ...query, limit: pageSize + 1 })
        const more = records.length > pageSize
        return { records: more ? records.slice(0, pageSize) : records, more }
      },
    },
    {
      name: 'rollups',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        const query = parse(schemas.rollupQuerySchema, body) as RollupQuery
        validateRollupQuery(query)
        if (store.queryRollups === undefined)
          throw new HttpError(501, 'NOT_IMPLEMENTED', `the server's store (${store.name}) keeps no daily rollups`)
        return store.queryRollups(query)
      },
    },
  ]
}

/** The path of each store route. */
export const STORE_PATHS: Record<string, string> = {
  reserve: '/v1/reserve',
  commit: '/v1/commit',
  release: '/v1/release',
  balances: '/v1/balances',
  reset: '/v1/reset',
  'budgets.get': '/v1/budgets/get',
  'budgets.put': '/v1/budgets/put',
  'budgets.list': '/v1/budgets/list',
  'budgets.history': '/v1/budgets/history',
  records: '/v1/records',
  rollups: '/v1/rollups',
}
