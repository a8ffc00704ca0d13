// dashboards/grafana.json is built on the names the library emits: every metric any query uses must appear in
// budgetMetrics().collect() (the same names registerBudgetMetrics registers), and the panels the issue asks for exist.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { budgetMetrics } from '../../src/budget/metrics.js'

const dashboard = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'dashboards', 'grafana.json'), 'utf8'),
) as {
  panels: { id: number; title: string; targets: { expr: string }[] }[]
  templating: { list: { name: string; definition?: string }[] }
}

function queries(): string[] {
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr))
  for (const variable of dashboard.templating.list)
    if (variable.definition !== undefined) exprs.push(variable.definition)
  return exprs
}

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or label values. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
  const withoutGrouping = withoutStrings.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
  return [...withoutGrouping.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter((name) => name.startsWith('llm_budget'))
}

async function emittedNames(): Promise<Set<string>> {
  const manager = new BudgetManager()
  const metrics = budgetMetrics(manager)
  await manager.setBudget('team:a', { maxBudget: 1 })
  await manager.record({ team: 'a' }, { cost: 0.5, model: 'gpt-4o', provider: 'openai' })
  const text = await metrics.collect()
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!))
}

describe('dashboards/grafana.json', () => {
  it('queries only metrics the library emits', async () => {
    const emitted = await emittedNames()
    const used = new Set(queries().flatMap(metricNames))
    expect(used.size).toBeGreaterThanOrEqual(10)
    for (const name of used) expect(emitted, `${name} is used by the dashboard`).toContain(name)
  })

  it('the name extraction finds names and would catch a misspelt one', () => {
    expect(
      metricNames(
        'sum by (model) (rate(llm_budget_spend_usd_total{scope=~"team:.*"}[5m])) / llm_budget_scope_limt_usd',
      ),
    ).toEqual(['llm_budget_spend_usd_total', 'llm_budget_scope_limt_usd'])
  })

  it('has the panels for spend by team, user and model, utilisation, remaining, blocked calls and forecast', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase())
    for (const word of ['by team', 'top users', 'by model', 'utilisation', 'remaining', 'blocked', 'forecast']) {
      expect(
        titles.some((t) => t.includes(word)),
        word,
      ).toBe(true)
    }
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const fixed of [
      'llm_budget_scope_spend_usd',
      'llm_budget_scope_limit_usd',
      'llm_budget_scope_remaining_usd',
      'llm_budget_scope_utilization_ratio',
    ]) {
      expect(
        queries().some((q) => q.includes(fixed)),
        fixed,
      ).toBe(true)
    }
  })
})
