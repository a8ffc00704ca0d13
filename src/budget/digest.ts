/**
 * Daily and weekly spend digests: totals, top users, models and teams, budgets near their limit and budgets
 * projected to overrun, delivered to Slack (Block Kit), email (text and HTML, through your send function) and a
 * JSON webhook. `sendDigest` claims the period through the store first, so when every instance (or every cron
 * host) runs it, exactly one sends it.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { ledgerKey } from '../stores/ledger/keys.js'
import { BudgetConfigError, isBudgetError } from '../errors.js'
import { parseOptions } from '../internal/options.js'
import { post } from './alerts.js'
import { claimOnce } from './forecast-alert.js'
import type { BudgetManager } from './manager.js'
import { aggregateSpend, type SpendGroupBy } from './records.js'
import { parseScope } from './scopes.js'

/** A digest's period: the previous whole UTC day, or the previous whole ISO week (Monday to Monday, UTC). */
export type DigestPeriod = 'daily' | 'weekly'

/** One line of a top list: a user, model or team and its exact spend. */
export interface DigestEntry {
  key: string
  cost: string
  calls: number
}

/** What a digest reports. Amounts are exact decimal USD strings. */
export interface Digest {
  period: DigestPeriod
  /** `d2026-12-05` or `w2026-11-30` (the week's Monday). */
  periodId: string
  from: Date
  to: Date
  total: { cost: string; calls: number }
  topUsers: DigestEntry[]
  topModels: DigestEntry[]
  topTeams: DigestEntry[]
  /** Budgets at 80 % of their limit or more now. */
  nearLimit: { scope: string; spend: string; limit: string; percentUsed: number }[]
  /** Budgets whose projected window-end spend is above their limit. */
  projectedOver: { scope: string; projectedSpend: string; limit: string; exhaustsAt: Date | null }[]
}

const DAY = 86_400_000

function periodOf(period: DigestPeriod, now: number): { id: string; from: number; to: number } {
  const today = Math.floor(now / DAY) * DAY
  if (period === 'daily')
    return { id: `d${new Date(today - DAY).toISOString().slice(0, 10)}`, from: today - DAY, to: today }
  const weekday = (new Date(today).getUTCDay() + 6) % 7 // Monday 0
  const thisMonday = today - weekday * DAY
  return {
    id: `w${new Date(thisMonday - 7 * DAY).toISOString().slice(0, 10)}`,
    from: thisMonday - 7 * DAY,
    to: thisMonday,
  }
}

/** Builds the digest of the period that ended last (by the manager's clock). Reads; sends nothing. */
export async function buildDigest(manager: BudgetManager, period: DigestPeriod, top = 5): Promise<Digest> {
  const { id, from, to } = periodOf(period, manager.clock.now())
  const records = await manager.spendRecords({ from, to })
  const totals = aggregateSpend(records)
  const topOf = (by: SpendGroupBy): DigestEntry[] =>
    aggregateSpend(records, { groupBy: [by] })
      .groups.filter((g) => g.key[by] !== '(none)')
      .sort((a, b) =>
        BigInt(b.costNanoUsd) > BigInt(a.costNanoUsd) ? 1 : BigInt(b.costNanoUsd) < BigInt(a.costNanoUsd) ? -1 : 0,
      )
      .slice(0, top)
      .map((g) => ({ key: g.key[by]!, cost: g.exact.cost, calls: g.calls }))
  const nearLimit: Digest['nearLimit'] = []
  const projectedOver: Digest['projectedOver'] = []
  for (const { scope } of await manager.store.listBudgets()) {
    let status
    try {
      status = await manager.getStatus(parseScope(scope))
    } catch (error) {
      if (isBudgetError(error) && error.code === 'INVALID_INPUT') continue
      throw error
    }
    if (status.exact.limit === null || status.limit === null) continue
    if (status.percentUsed !== null && status.percentUsed >= 80)
      nearLimit.push({ scope, spend: status.exact.spend, limit: status.exact.limit, percentUsed: status.percentUsed })
    if (status.projectedSpend > status.limit)
      projectedOver.push({
        scope,
        projectedSpend: status.exact.projectedSpend,
        limit: status.exact.limit,
        exhaustsAt: status.exhaustsAt,
      })
  }
  nearLimit.sort((a, b) => b.percentUsed - a.percentUsed)
  return {
    period,
    periodId: id,
    from: new Date(from),
    to: new Date(to),
    total: { cost: totals.exact.cost, calls: totals.calls },
    topUsers: topOf('user'),
    topModels: topOf('model'),
    topTeams: topOf('team'),
    nearLimit,
    projectedOver,
  }
}

function usd(exact: string): string {
  const [whole = '0', fraction = ''] = exact.split('.')
  let f = fraction.replace(/0+$/, '')
  while (f.length < 2) f += '0'
  return `$${whole}.${f}`
}

function title(d: Digest): string {
  return `LLM spend ${d.period === 'daily' ? 'on' : 'in the week from'} ${d.from.toISOString().slice(0, 10)}: ${usd(d.total.cost)} in ${d.total.calls} calls`
}

function sections(d: Digest): { heading: string; lines: string[] }[] {
  const list = (entries: DigestEntry[]) =>
    entries.length === 0 ? ['none'] : entries.map((e) => `${e.key}: ${usd(e.cost)} (${e.calls} calls)`)
  return [
    { heading: 'Top users', lines: list(d.topUsers) },
    { heading: 'Top models', lines: list(d.topModels) },
    { heading: 'Top teams', lines: list(d.topTeams) },
    {
      heading: 'Budgets at 80% or more',
      lines:
        d.nearLimit.length === 0
          ? ['none']
          : d.nearLimit.map((b) => `${b.scope}: ${usd(b.spend)} of ${usd(b.limit)} (${b.percentUsed.toFixed(1)}%)`),
    },
    {
      heading: 'Projected to overrun',
      lines:
        d.projectedOver.length === 0
          ? ['none']
          : d.projectedOver.map(
              (b) =>
                `${b.scope}: ${usd(b.projectedSpend)} projected, limit ${usd(b.limit)}${b.exhaustsAt === null ? '' : `, runs out ${b.exhaustsAt.toISOString()}`}`,
            ),
    },
  ]
}

/** The digest as plain text (the email's text part). */
export function digestText(d: Digest): string {
  return [title(d), '', ...sections(d).flatMap((s) => [`${s.heading}:`, ...s.lines.map((l) => `  - ${l}`), ''])].join(
    '\n',
  )
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** The digest as HTML (the email's HTML part); every value is escaped. */
export function digestHtml(d: Digest): string {
  const body = sections(d)
    .map((s) => `<h3>${escapeHtml(s.heading)}</h3><ul>${s.lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`)
    .join('')
  return `<!doctype html><html><body><h2>${escapeHtml(title(d))}</h2>${body}</body></html>`
}

function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** The digest as a Slack incoming-webhook message with Block Kit blocks. */
export function digestSlackMessage(d: Digest): { text: string; blocks: unknown[] } {
  return {
    text: title(d),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title(d).slice(0, 150) } },
      ...sections(d).map((s) => ({
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `*${s.heading}*\n${s.lines.map((l) => `• ${escapeSlack(l)}`).join('\n')}`.slice(0, 3000),
        },
      })),
    ],
  }
}

/** The digest as JSON (dates as ISO strings), with `event: 'digest'`. */
export function digestPayload(d: Digest): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ event: 'digest', ...d })) as Record<string, unknown>
}

/** Options of {@link sendDigest}. */
export interface SendDigestOptions {
  /** `daily` (the previous UTC day) or `weekly` (the previous ISO week). */
  period: DigestPeriod
  /** Slack incoming webhook. */
  slack?: { webhookUrl: string }
  /** JSON webhook. */
  webhook?: { url: string; headers?: Record<string, string> }
  /** Email through your send function. */
  email?: {
    send: (message: { to: string[]; subject: string; text: string; html: string }) => Promise<unknown>
    to: string[]
  }
  /** Entries per top list. Default 5. */
  top?: number
  /** `fetch` to use. Default: the global `fetch`. */
  fetch?: typeof fetch
  /** Per-attempt timeout, ms. Default 5000. */
  timeoutMs?: number
}

const url = z
  .string()
  .url()
  .refine((u) => /^https?:/.test(u), 'must be an http(s) URL')
const optionsSchema = z.object({
  period: z.enum(['daily', 'weekly']),
  slack: z.object({ webhookUrl: url }).optional(),
  webhook: z.object({ url, headers: z.record(z.string(), z.string()).optional() }).optional(),
  email: z
    .object({
      send: z.custom<(m: unknown) => Promise<unknown>>((v) => typeof v === 'function', 'must be a function'),
      to: z.array(z.string().min(3)).min(1),
    })
    .optional(),
  top: z.number().int().min(1).max(100).optional(),
  fetch: z.custom<typeof fetch>((v) => typeof v === 'function', 'must be a function').optional(),
  timeoutMs: z.number().int().min(1).optional(),
})

/**
 * Sends the digest of the period that ended last, once across every instance sharing the store: the first
 * caller claims the period and delivers; the others get `{ sent: false }`. Each destination is tried up to 3
 * times; failures are returned in `errors` (the claim stands, so a failed digest is not re-sent by others).
 */
export async function sendDigest(
  manager: BudgetManager,
  options: SendDigestOptions,
): Promise<{ sent: boolean; digest: Digest; errors: unknown[] }> {
  const parsed = parseOptions('sendDigest()', optionsSchema, options)
  if (parsed.slack === undefined && parsed.webhook === undefined && parsed.email === undefined) {
    throw new BudgetConfigError('slack', 'pass at least one of `slack`, `webhook` or `email`')
  }
  const digest = await buildDigest(manager, parsed.period, parsed.top ?? 5)
  const now = manager.clock.now()
  const claimed = await claimOnce(
    manager.store,
    ledgerKey('digest', digest.periodId, 'req'),
    `digest-${digest.periodId}-${now}`,
    now,
    digest.to.getTime() + 400 * DAY,
  )
  if (!claimed) return { sent: false, digest, errors: [] }
  const fetchImpl = parsed.fetch ?? globalThis.fetch
  const timeoutMs = parsed.timeoutMs ?? 5000
  const errors: unknown[] = []
  const attempt = async (send: () => Promise<unknown>): Promise<void> => {
    let last: unknown
    for (let i = 0; i < 3; i++) {
      try {
        await send()
        return
      } catch (error) {
        last = error
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** i))
      }
    }
    errors.push(last)
  }
  const jobs: Promise<void>[] = []
  if (parsed.slack !== undefined)
    jobs.push(attempt(() => post(fetchImpl, parsed.slack!.webhookUrl, digestSlackMessage(digest), {}, timeoutMs)))
  if (parsed.webhook !== undefined)
    jobs.push(
      attempt(() =>
        post(fetchImpl, parsed.webhook!.url, digestPayload(digest), parsed.webhook!.headers ?? {}, timeoutMs),
      ),
    )
  if (parsed.email !== undefined) {
    const email = parsed.email
    jobs.push(
      attempt(() =>
        email.send({
          to: [...email.to],
          subject: `[llm-budget] ${title(digest)}`,
          text: digestText(digest),
          html: digestHtml(digest),
        }),
      ),
    )
  }
  await Promise.all(jobs)
  return { sent: true, digest, errors }
}
