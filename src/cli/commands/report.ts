/**
 * `llm-budget report --store file:./budget-data [--from DATE] [--to DATE] [--group-by day,model,...]
 * [--scope user:alice] [--model M] [--tags a,b] [--tenant T] [--format table|csv|jsonl|json] [--limit N]
 * [--ascii]`: spend per scope, model and day from a store's spend records (exact totals) and the current
 * status of every stored budget.
 *
 * @packageDocumentation
 */
import { BudgetManager, type BudgetStatus } from '../../budget/manager.js'
import { formatNano } from '../../budget/money.js'
import {
  type SpendGroup,
  SPEND_GROUP_BY,
  type SpendGroupBy,
  type SpendReport,
  aggregateSpend,
  recordsToCsv,
  recordsToJsonLines,
  reportToCsv,
} from '../../budget/records.js'
import { type ScopeString, parseScope, scopeKey } from '../../budget/scopes.js'
import { InvalidInputError } from '../../errors.js'
import type { BudgetStore, SpendRecord, StoredBudget } from '../../stores/types.js'
import { EXIT, UsageError, parseArgs, type Command } from '../dispatch.js'
import { STORE_FORMS, openStore } from '../store-url.js'

const GROUP_BY = SPEND_GROUP_BY
const FORMATS = ['table', 'csv', 'jsonl', 'json'] as const
type Format = (typeof FORMATS)[number]
/** Sections of the default table, after `day` and `model`, shown when some record has a value. */
const SCOPE_SECTIONS: readonly SpendGroupBy[] = ['user', 'team', 'org', 'key', 'endUser', 'tag', 'provider']

const USAGE = `Usage: llm-budget report --store <store> [--from DATE] [--to DATE] [--group-by DIM[,DIM]] [options]

Prints spend from the store's spend records (per day, model and scope, with bars; totals are exact sums of
the records) and the current status of every stored budget.

Options:
  --store S            ${STORE_FORMS}, e.g. file:./budget-data (required)
  --from DATE          first day (YYYY-MM-DD, UTC) or instant (2026-11-01T09:00:00Z); default: all records
  --to DATE            last day, inclusive (YYYY-MM-DD), or an instant, exclusive; default: all records
  --group-by DIMS      one section grouped by these dimensions, comma-separated: day, month, model,
                       modelServed, provider, user, team, org, key, endUser, tag, deployment, status
                       (default: sections by day, by model and by each scope type that has spend)
  --scope S            only calls that counted against this scope (user:alice, team:search, tag:batch, global);
                       the budget list shows only this scope
  --model M            only calls of this model (requested or served)
  --tags A,B           only calls carrying every one of these tags
  --tenant T           a budget server's tenant (the name in its token file): only that tenant's data
  --format F           table (default), csv, jsonl or json; csv and jsonl print one row per record, or per
                       group with --group-by; json prints totals, sections and budgets
  --limit N            rows per table section; the rest are summed into one more line (default 25)
  --ascii              bars made of # instead of Unicode blocks

Exit codes: 0 printed (also for an empty store), 1 store failure, 2 bad arguments.`

/** Why `--store memory` is always empty: the report runs in a process of its own. */
const MEMORY_IS_EMPTY =
  'A memory store lives inside the process that uses it, and `report` runs in a new process, so it starts empty: point --store at the store your application writes to (file:<dir> or redis://host:port), or call budgets.querySpend() inside the application.'

interface ReportOptions {
  from: number | undefined
  to: number | undefined
  scope: ScopeString | undefined
  model: string | undefined
  tags: string[] | undefined
  groupBy: SpendGroupBy[] | undefined
  tenant: string | undefined
  format: Format
  limit: number
  ascii: boolean
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/

/** `YYYY-MM-DD` (UTC day; `--to` includes the day) or an ISO instant with a zone. */
function parseDate(name: 'from' | 'to', text: string): number {
  const day = DAY.exec(text)
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])]
    const start = Date.UTC(y, m - 1, d)
    const check = new Date(start)
    if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d)
      throw new UsageError(`--${name} ${text} is not a calendar date`)
    return name === 'to' ? start + 86_400_000 : start
  }
  if (INSTANT.test(text)) {
    const t = Date.parse(text)
    if (Number.isFinite(t)) return t
  }
  throw new UsageError(
    `--${name} must be a date (2026-11-01) or an instant with a zone (2026-11-01T09:00:00Z), got ${JSON.stringify(text)}`,
  )
}

function parseOptions(argv: string[]): ReportOptions & { store: string } {
  const args = parseArgs(argv, {
    values: ['store', 'from', 'to', 'group-by', 'scope', 'model', 'tags', 'tenant', 'format', 'limit'],
    switches: ['ascii'],
  })
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`)
  const store = args.values.get('store')
  if (store === undefined) throw new UsageError(`--store is required (${STORE_FORMS})`)
  const fromText = args.values.get('from')
  const toText = args.values.get('to')
  const from = fromText === undefined ? undefined : parseDate('from', fromText)
  const to = toText === undefined ? undefined : parseDate('to', toText)
  if (from !== undefined && to !== undefined && from >= to)
    throw new UsageError(`--from ${fromText} is not before --to ${toText}`)
  let groupBy: SpendGroupBy[] | undefined
  const groupText = args.values.get('group-by')
  if (groupText !== undefined) {
    groupBy = []
    for (const part of groupText.split(',')) {
      const name = part.trim() as SpendGroupBy
      if (!GROUP_BY.includes(name))
        throw new UsageError(`--group-by takes ${GROUP_BY.join(', ')} (comma-separated), got ${JSON.stringify(part)}`)
      if (groupBy.includes(name)) throw new UsageError(`--group-by lists ${name} twice`)
      groupBy.push(name)
    }
  }
  let scope: ScopeString | undefined
  const scopeText = args.values.get('scope')
  if (scopeText !== undefined) {
    try {
      scope = scopeKey(parseScope(scopeText))
    } catch (error) {
      if (error instanceof InvalidInputError)
        throw new UsageError(`--scope: ${error.message.replace(/`scope`/, 'the scope')}`)
      throw error
    }
  }
  const format = (args.values.get('format') ?? 'table') as Format
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be ${FORMATS.join(', ')}, got ${JSON.stringify(format)}`)
  const limitText = args.values.get('limit') ?? '25'
  if (!/^\d{1,6}$/.test(limitText) || Number(limitText) < 1)
    throw new UsageError(`--limit must be a whole number >= 1, got ${JSON.stringify(limitText)}`)
  const tagsText = args.values.get('tags')
  const tags = tagsText === undefined ? undefined : tagsText.split(',').map((t) => t.trim())
  if (tags !== undefined && tags.some((t) => t === ''))
    throw new UsageError('--tags takes tags separated by commas, none empty')
  const tenant = args.values.get('tenant')
  if (tenant !== undefined && !/^[^\s/]{1,200}$/.test(tenant))
    throw new UsageError(`--tenant must be a tenant name without spaces or /, got ${JSON.stringify(tenant)}`)
  const model = args.values.get('model')
  if (model !== undefined && model === '') throw new UsageError('--model needs a model name')
  return {
    store,
    from,
    to,
    scope,
    model,
    tags,
    groupBy,
    tenant,
    format,
    limit: Number(limitText),
    ascii: args.switches.has('ascii'),
  }
}

/** One budget's line of the report. */
interface BudgetLine {
  /** `type:id`, prefixed with `tenant/` for a server tenant's budget when no `--tenant` was given. */
  scope: string
  status: BudgetStatus | null
  error: string | null
}

/** A store that holds tenants' data (`<tenant>/<scope>`): the tenant of a stored scope, or undefined. */
function tenantOf(scope: string): string | undefined {
  const slash = scope.indexOf('/')
  const colon = scope.indexOf(':')
  return slash > 0 && (colon < 0 || slash < colon) ? scope.slice(0, slash) : undefined
}

async function budgetLines(store: BudgetStore, options: ReportOptions, now: () => number): Promise<BudgetLine[]> {
  const stored: StoredBudget[] = await store.listBudgets()
  const byTenant = new Map<string | undefined, string[]>()
  for (const b of stored) {
    const tenant = options.tenant === undefined ? tenantOf(b.scope) : undefined
    const scope = tenant === undefined ? b.scope : b.scope.slice(tenant.length + 1)
    if (options.scope !== undefined && scope !== options.scope) continue
    byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), scope])
  }
  const lines: BudgetLine[] = []
  for (const [tenant, scopes] of byTenant) {
    let view = store
    if (tenant !== undefined) {
      const { tenantStore } = await import('../../stores/tenant.js')
      view = tenantStore(store, tenant, (_operation, run) => run())
    }
    const manager = new BudgetManager({ store: view, clock: { now } })
    for (const scope of scopes.sort()) {
      const shown = scope === 'global:global' ? 'global' : scope
      const label = tenant === undefined ? shown : `${tenant}/${shown}`
      try {
        lines.push({ scope: label, status: await manager.getStatus(parseScope(scope)), error: null })
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error
        lines.push({ scope: label, status: null, error: error.message })
      }
    }
  }
  return lines.sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0))
}

/** Exact decimal string without trailing zeros beyond two decimals: `5.000000000` -> `5.00`. */
function money(exact: string): string {
  const trimmed = exact.replace(/(\.\d\d\d*?)0+$/, '$1')
  return `$${trimmed}`
}

const PARTS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉']

/** A bar `width` characters long at `max`, in eighths of a character (Unicode) or whole `#`s (ASCII). */
function bar(value: bigint, max: bigint, width: number, ascii: boolean): string {
  if (max <= 0n || value <= 0n) return ''
  let eighths = Number((value * BigInt(width * 8)) / max)
  if (eighths === 0) eighths = 1
  if (ascii) return '#'.repeat(Math.max(1, Math.round(eighths / 8)))
  return '█'.repeat(Math.floor(eighths / 8)) + PARTS[eighths % 8]!
}

function label(group: SpendGroup, groupBy: readonly SpendGroupBy[]): string {
  return groupBy.map((by) => group.key[by] ?? '(none)').join(' / ')
}

function sortGroups(groups: SpendGroup[], groupBy: readonly SpendGroupBy[]): SpendGroup[] {
  if (groupBy[0] === 'day' || groupBy[0] === 'month') return groups
  return [...groups].sort((a, b) => {
    const x = BigInt(a.costNanoUsd)
    const y = BigInt(b.costNanoUsd)
    return x > y ? -1 : x < y ? 1 : 0
  })
}

function table(rows: string[][], align: Array<'l' | 'r'>): string[] {
  const widths = align.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) =>
    `  ${r.map((cell, i) => (i === r.length - 1 ? cell : align[i] === 'r' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ')}`.trimEnd(),
  )
}

function section(
  report: SpendReport,
  groupBy: readonly SpendGroupBy[],
  options: ReportOptions,
  totalNano: bigint,
): string[] {
  const byTime = groupBy[0] === 'day' || groupBy[0] === 'month'
  const groups = sortGroups(report.groups, groupBy)
  const fold = groups.length > options.limit
  // Over --limit: a time section keeps the latest `limit` rows, others the largest; the rest is summed into one
  // extra row, so `--limit 1` shows one row and the sum of the others.
  const shown = !fold ? groups : byTime ? groups.slice(groups.length - options.limit) : groups.slice(0, options.limit)
  const rest = !fold ? [] : byTime ? groups.slice(0, groups.length - shown.length) : groups.slice(shown.length)
  const restNano = rest.reduce((s, g) => s + BigInt(g.costNanoUsd), 0n)
  const restCalls = rest.reduce((s, g) => s + g.calls, 0)
  const max = shown.reduce((m, g) => (BigInt(g.costNanoUsd) > m ? BigInt(g.costNanoUsd) : m), restNano)
  const share = (nano: bigint): string =>
    totalNano === 0n ? '-' : `${(Number((nano * 10_000n) / totalNano) / 100).toFixed(1)}%`
  const row = (name: string, nano: bigint, calls: number): string[] => [
    name,
    money(formatNano(nano)),
    String(calls),
    share(nano),
    bar(nano, max, 30, options.ascii),
  ]
  const rows: string[][] = [[groupBy.join(' / '), 'cost', 'calls', 'share', '']]
  const restRow = rest.length === 0 ? [] : [row(`(${rest.length} ${byTime ? 'earlier' : 'more'})`, restNano, restCalls)]
  if (byTime) rows.push(...restRow)
  for (const g of shown) rows.push(row(label(g, groupBy), BigInt(g.costNanoUsd), g.calls))
  if (!byTime) rows.push(...restRow)
  const lines = [`Spend by ${groupBy.join(' and ')}`, ...table(rows, ['l', 'r', 'r', 'r', 'l'])]
  if (groupBy.includes('tag')) lines.push('  (a call with several tags counts once in each of its tags)')
  return lines
}

/** Percent of the limit used, from the exact strings (4 decimals, rounded down), or null without a limit. */
function percentUsed(status: BudgetStatus): number | null {
  if (status.exact.limit === null) return null
  const toNano = (exact: string): bigint => {
    const [whole, fraction = ''] = exact.split('.')
    return BigInt(whole!) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9))
  }
  const spend = toNano(status.exact.spend)
  const limit = toNano(status.exact.limit)
  if (limit === 0n) return spend > 0n ? 100 : 0
  return Number((spend * 1_000_000n) / limit) / 10_000
}

function colour(text: string, percent: number | null, enabled: boolean): string {
  if (!enabled || percent === null) return text
  const code = percent >= 100 ? 31 : percent >= 80 ? 33 : 32
  return `\u001b[${code}m${text}\u001b[0m`
}

function budgetSection(lines: BudgetLine[], options: ReportOptions, colours: boolean): string[] {
  const rows: string[][] = [['scope', 'spend', 'limit', 'used', 'resets at', '']]
  const percents: Array<number | null> = [null]
  for (const line of lines) {
    const s = line.status
    if (s === null) {
      rows.push([line.scope, '-', '-', '-', `unreadable: ${line.error ?? ''}`.slice(0, 100), ''])
      percents.push(null)
      continue
    }
    const percent = percentUsed(s)
    const used = percent === null ? '-' : `${percent.toFixed(1)}%`
    const meter =
      percent === null ? '' : bar(BigInt(Math.round(Math.min(percent, 100) * 100)), 10_000n, 20, options.ascii)
    rows.push([
      s.isDefault ? `${line.scope} (default)` : line.scope,
      money(s.exact.spend),
      s.exact.limit === null ? 'no limit' : money(s.exact.limit),
      used,
      s.resetsAt === null ? 'never' : s.resetsAt.toISOString(),
      meter,
    ])
    percents.push(percent)
  }
  const text = table(rows, ['l', 'r', 'r', 'r', 'l', 'l'])
  return ['Budgets (current window)', ...text.map((t, i) => colour(t, percents[i] ?? null, colours && i > 0))]
}

function describeRange(options: ReportOptions): string {
  const parts: string[] = []
  if (options.from !== undefined) parts.push(`from ${new Date(options.from).toISOString()}`)
  if (options.to !== undefined) parts.push(`to ${new Date(options.to).toISOString()} (exclusive)`)
  if (options.scope !== undefined) parts.push(`scope ${options.scope === 'global:global' ? 'global' : options.scope}`)
  if (options.model !== undefined) parts.push(`model ${options.model}`)
  if (options.tags !== undefined) parts.push(`tags ${options.tags.join(', ')}`)
  return parts.length === 0 ? 'all records' : parts.join(', ')
}

function statusJson(line: BudgetLine): Record<string, unknown> {
  const s = line.status
  if (s === null) return { scope: line.scope, error: line.error }
  return {
    scope: line.scope,
    spend: s.spend,
    reserved: s.reserved,
    limit: s.limit,
    remaining: s.remaining,
    percentUsed: percentUsed(s),
    windowId: s.windowId,
    windowStart: s.windowStart?.toISOString() ?? null,
    resetsAt: s.resetsAt?.toISOString() ?? null,
    isDefault: s.isDefault,
    exact: s.exact,
  }
}

function groupJson(group: SpendGroup): Record<string, unknown> {
  return {
    ...group.key,
    cost: group.exact.cost,
    costNanoUsd: group.costNanoUsd,
    calls: group.calls,
    inputTokens: group.inputTokens,
    outputTokens: group.outputTokens,
    estimatedCalls: group.estimatedCalls,
  }
}

function totalsJson(report: SpendReport): Record<string, unknown> {
  return {
    cost: report.exact.cost,
    costNanoUsd: report.costNanoUsd,
    calls: report.calls,
    inputTokens: report.inputTokens,
    outputTokens: report.outputTokens,
    estimatedCalls: report.estimatedCalls,
  }
}

/** Dimensions of the default sections: day, model, then each scope type some record has a value for. */
function defaultSections(records: readonly SpendRecord[]): SpendGroupBy[][] {
  const sections: SpendGroupBy[][] = [['day'], ['model']]
  for (const by of SCOPE_SECTIONS) {
    const report = aggregateSpend(records, { groupBy: [by] })
    if (report.groups.some((g) => g.key[by] !== '(none)')) sections.push([by])
  }
  return sections
}

export const reportCommand: Command = {
  name: 'report',
  summary: 'spend per scope, model and day, and budget status: report --store file:./budget-data',
  usage: USAGE,
  async run({ argv, out, err }) {
    const options = parseOptions(argv)
    const opened = await openStore(options.store, { mustExist: true, onRedisError: () => {} })
    try {
      let store = opened.store
      if (options.tenant !== undefined) {
        const { tenantStore } = await import('../../stores/tenant.js')
        store = tenantStore(store, options.tenant, (_operation, run) => run())
      }
      const clock = store.clock ?? { now: () => Date.now() }
      const manager = new BudgetManager({ store, clock })
      const records = await manager.spendRecords({
        from: options.from,
        to: options.to,
        scope: options.scope,
        model: options.model,
        tags: options.tags,
      })
      const budgets = await budgetLines(store, options, () => clock.now())
      const total = aggregateSpend(records)
      const sections = options.groupBy === undefined ? defaultSections(records) : [options.groupBy]
      const where = `${opened.label}${options.tenant === undefined ? '' : `, tenant ${options.tenant}`}`
      const empty = records.length === 0 && budgets.length === 0
      const emptyMessage = `No spend records and no budgets in ${where} (${describeRange(options)}).${options.store === 'memory' ? ` ${MEMORY_IS_EMPTY}` : ''}`

      if (options.format === 'csv' || options.format === 'jsonl') {
        if (empty) err(emptyMessage)
        if (options.groupBy === undefined) {
          const text = options.format === 'csv' ? recordsToCsv(records) : recordsToJsonLines(records)
          if (text !== '') out(text.replace(/\n$/, ''))
        } else {
          const report = aggregateSpend(records, { groupBy: options.groupBy })
          if (options.format === 'csv') out(reportToCsv(report, options.groupBy).replace(/\n$/, ''))
          else for (const g of report.groups) out(JSON.stringify(groupJson(g)))
        }
        return EXIT.ok
      }
      if (options.format === 'json') {
        if (empty) err(emptyMessage)
        const json = {
          store: opened.label,
          tenant: options.tenant ?? null,
          from: options.from === undefined ? null : new Date(options.from).toISOString(),
          to: options.to === undefined ? null : new Date(options.to).toISOString(),
          scope: options.scope ?? null,
          model: options.model ?? null,
          tags: options.tags ?? null,
          totals: totalsJson(total),
          sections: sections.map((groupBy) => ({
            groupBy,
            groups: aggregateSpend(records, { groupBy }).groups.map(groupJson),
          })),
          budgets: budgets.map(statusJson),
        }
        out(JSON.stringify(json, null, 2))
        return EXIT.ok
      }

      if (empty) {
        out(emptyMessage)
        return EXIT.ok
      }
      out(`Spend report: ${where}; ${describeRange(options)}; times in UTC.`)
      out('')
      if (records.length === 0) {
        out('No spend records in this range.')
      } else {
        const totalNano = BigInt(total.costNanoUsd)
        for (const groupBy of sections) {
          for (const line of section(aggregateSpend(records, { groupBy }), groupBy, options, totalNano)) out(line)
          out('')
        }
        const estimated = total.estimatedCalls > 0 ? `, ${total.estimatedCalls} estimated` : ''
        out(
          `Total: ${money(total.exact.cost)} (${total.costNanoUsd} nano-USD) in ${total.calls} calls${estimated}; ${total.inputTokens} input and ${total.outputTokens} output tokens.`,
        )
      }
      out('')
      if (budgets.length === 0)
        out(options.scope === undefined ? 'No budgets stored.' : `No budget stored for ${options.scope}.`)
      else
        for (const line of budgetSection(
          budgets,
          options,
          process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
        ))
          out(line)
      return EXIT.ok
    } finally {
      await opened.close()
    }
  },
}

export default reportCommand
