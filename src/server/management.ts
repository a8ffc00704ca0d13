/**
 * Management endpoints (`/budget/new`, `/budget/info`, `/budget/update`, `/budget/delete`, `/spend/logs`,
 * `/spend/report`), served through one `BudgetManager` per tenant over the tenant's own view of the store,
 * so definitions are validated, windows computed and records aggregated exactly as in the library.
 *
 * @internal Used by the handler.
 */
import { z } from 'zod'
import { BudgetManager, type BudgetManagerOptions } from '../budget/manager.js'
import {
  recordsToCsv,
  recordsToJsonLines,
  SPEND_GROUP_BY,
  type SpendGroupBy,
  type SpendQuery,
} from '../budget/records.js'
import type { BudgetDefinition } from '../budget/definition.js'
import { parseScope } from '../budget/scopes.js'
import { InvalidInputError } from '../errors.js'
import type { BudgetStore } from '../stores/types.js'
import { describeValue } from '../internal/describe.js'
import { HttpError } from './errors.js'
import type { Route, RouteContext } from './handler.js'

/** Options of the management endpoints. */
export interface ManagementOptions {
  /**
   * A budget manager: the server uses its store (shared by all tenants, each in its own namespace) and its
   * clock. Management endpoints run through one manager per tenant built with `managerOptions`.
   */
  manager?: BudgetManager
  /**
   * Options of the per-tenant managers behind the management endpoints (catalog, defaults, hold TTL, ...).
   * `store` is always the tenant's view of the server's store.
   */
  managerOptions?: Omit<BudgetManagerOptions, 'store'>
}

const scope = z.string().min(1).max(600)
const reason = z.string().max(4096).optional()
const newSchema = z.object({ scope, definition: z.record(z.string(), z.unknown()), reason })
const updateSchema = z.object({
  scope,
  definition: z.record(z.string(), z.unknown()).optional(),
  increase: z.object({ amount: z.number(), until: z.union([z.number(), z.string().max(64)]), reason }).optional(),
  reason,
})
const deleteSchema = z.object({ scope, reason })

const GROUP_BY = new Set<string>(SPEND_GROUP_BY)

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body)
  if (!result.success) {
    const issue = result.error.issues[0]
    const field = issue === undefined || issue.path.length === 0 ? 'body' : issue.path.map(String).join('.')
    throw new InvalidInputError(field, `\`${field}\`: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}

function time(field: string, value: string | null): number | undefined {
  if (value === null || value === '') return undefined
  const n = /^-?\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isFinite(n))
    throw new InvalidInputError(
      field,
      `\`${field}\` must be epoch milliseconds or an ISO date, got ${describeValue(value, 40)}`,
    )
  return n
}

function spendQuery(query: URLSearchParams): SpendQuery {
  const out: SpendQuery = {}
  const from = time('from', query.get('from'))
  const to = time('to', query.get('to'))
  if (from !== undefined) out.from = from
  if (to !== undefined) out.to = to
  const s = query.get('scope')
  if (s !== null) out.scope = parseScope(s.slice(0, 600))
  const model = query.get('model')
  if (model !== null) out.model = model.slice(0, 256)
  const tags = query.getAll('tag')
  if (tags.length > 32) throw new InvalidInputError('tag', 'at most 32 `tag` parameters')
  if (tags.length > 0) out.tags = tags
  const groupBy = query.get('groupBy')
  if (groupBy !== null && groupBy !== '') {
    const parts = groupBy.split(',')
    for (const part of parts)
      if (!GROUP_BY.has(part))
        throw new InvalidInputError(
          'groupBy',
          `\`groupBy\` takes ${[...GROUP_BY].join(', ')}; got ${describeValue(part, 40)}`,
        )
    out.groupBy = parts as SpendGroupBy[]
  }
  return out
}

/** Routes by path. */
export function createManagementRoutes(options: ManagementOptions, _store: BudgetStore): Record<string, Route> {
  const managerOptions: Omit<BudgetManagerOptions, 'store'> = {
    ...(options.manager === undefined ? {} : { clock: options.manager.clock }),
    ...options.managerOptions,
  }
  const managers = new Map<string, { store: BudgetStore; manager: BudgetManager }>()
  const managerOf = (context: RouteContext): BudgetManager => {
    const cached = managers.get(context.tenant)
    if (cached !== undefined && cached.store === context.store) return cached.manager
    const manager = new BudgetManager({ ...managerOptions, store: context.store })
    if (managers.size >= 1000) managers.delete(managers.keys().next().value!)
    managers.set(context.tenant, { store: context.store, manager })
    return manager
  }
  const limitOf = (query: URLSearchParams): number => {
    const raw = query.get('limit')
    if (raw === null) return 1000
    if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > 10_000)
      throw new InvalidInputError('limit', '`limit` must be a whole number from 1 to 10000')
    return Number(raw)
  }
  return {
    '/budget/new': {
      name: 'budget.new',
      method: 'POST',
      body: true,
      run: async (context) => {
        const body = parseBody(newSchema, context.body)
        // Atomic: the store writes only if the scope has no budget (`ifRevision: 0`), so of two concurrent
        // creates exactly one succeeds; the manager behind this request may not turn a conflict into an update.
        let exists = false
        const createOnly: BudgetStore = {
          ...context.store,
          putBudget: async (request) => {
            const result = await context.store.putBudget({ ...request, ifRevision: 0 })
            if (!result.ok) {
              exists = true
              throw new Error('the scope already has a budget')
            }
            return result
          },
        }
        const conflict = (): HttpError =>
          new HttpError(
            409,
            'CONFLICT',
            `${describeValue(body.scope, 100)} already has a budget; change it with /budget/update`,
            'scope',
          )
        try {
          const info = await new BudgetManager({ ...managerOptions, store: createOnly }).setBudget(
            parseScope(body.scope),
            body.definition as BudgetDefinition,
            body.reason === undefined ? {} : { reason: body.reason },
          )
          return { budget: info }
        } catch (error) {
          if (exists) throw conflict()
          throw error
        }
      },
    },
    '/budget/info': {
      name: 'budget.info',
      method: 'GET',
      body: false,
      run: async (context) => {
        const s = context.query.get('scope')
        if (s === null || s === '')
          throw new InvalidInputError('scope', 'pass `?scope=type:id`, e.g. `/budget/info?scope=user:alice`')
        const manager = managerOf(context)
        const budget = await manager.getBudget(parseScope(s.slice(0, 600)))
        let status = null
        try {
          status = await manager.getStatus(parseScope(s.slice(0, 600)))
        } catch (error) {
          if (budget !== null) throw error
        }
        if (budget === null && status === null)
          throw new HttpError(404, 'NOT_FOUND', `${describeValue(s, 100)} has no budget`, 'scope')
        return { budget, status }
      },
    },
    '/budget/update': {
      name: 'budget.update',
      method: 'POST',
      body: true,
      run: async (context) => {
        const body = parseBody(updateSchema, context.body)
        if (body.definition === undefined && body.increase === undefined)
          throw new InvalidInputError(
            'definition',
            'pass `definition` (the new budget) or `increase` ({ amount, until, reason })',
          )
        const manager = managerOf(context)
        if ((await manager.getBudget(parseScope(body.scope))) === null)
          throw new HttpError(
            404,
            'NOT_FOUND',
            `${describeValue(body.scope, 100)} has no budget; create it with /budget/new`,
            'scope',
          )
        let info =
          body.definition === undefined
            ? null
            : await manager.setBudget(
                parseScope(body.scope),
                body.definition as BudgetDefinition,
                body.reason === undefined ? {} : { reason: body.reason },
              )
        if (body.increase !== undefined) {
          const until = typeof body.increase.until === 'number' ? body.increase.until : Date.parse(body.increase.until)
          info = await manager.increaseBudget(parseScope(body.scope), {
            amount: body.increase.amount,
            until,
            ...(body.increase.reason === undefined ? {} : { reason: body.increase.reason }),
          })
        }
        return { budget: info }
      },
    },
    '/budget/delete': {
      name: 'budget.delete',
      method: 'POST',
      body: true,
      run: async (context) => {
        const body = parseBody(deleteSchema, context.body)
        const deleted = await managerOf(context).deleteBudget(
          parseScope(body.scope),
          body.reason === undefined ? {} : { reason: body.reason },
        )
        if (!deleted) throw new HttpError(404, 'NOT_FOUND', `${describeValue(body.scope, 100)} has no budget`, 'scope')
        return { deleted }
      },
    },
    '/spend/logs': {
      name: 'spend.logs',
      method: 'GET',
      body: false,
      run: async (context) => {
        const query = spendQuery(context.query)
        const limit = limitOf(context.query)
        const records = await managerOf(context).spendRecords(query)
        const page = records.slice(0, limit)
        const format = context.query.get('format') ?? 'json'
        if (format === 'csv') return new RawAnswer('text/csv; charset=utf-8', recordsToCsv(page))
        if (format === 'jsonl') return new RawAnswer('application/x-ndjson; charset=utf-8', recordsToJsonLines(page))
        if (format !== 'json') throw new InvalidInputError('format', '`format` is `json`, `jsonl` or `csv`')
        return { records: page, more: records.length > limit }
      },
    },
    '/spend/report': {
      name: 'spend.report',
      method: 'GET',
      body: false,
      run: async (context) => ({ report: await managerOf(context).querySpend(spendQuery(context.query)) }),
    },
  }
}

/** A non-JSON answer (CSV, JSON Lines). */
export class RawAnswer {
  constructor(
    readonly contentType: string,
    readonly body: string,
  ) {}
}
