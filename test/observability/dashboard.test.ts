// The dashboard's HTTP surface: static page without data under a strict CSP, data only with a token, per tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DashboardFixture, TOKEN_A, TOKEN_B, startDashboardServer } from './dashboard-fixture.js'

let fixture: DashboardFixture
beforeAll(async () => {
  fixture = await startDashboardServer()
})
afterAll(() => fixture.close())

const get = (path: string, token?: string) =>
  fetch(fixture.url + path, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })

describe('dashboard over HTTP', () => {
  it('serves the page, script and stylesheet with a strict CSP and no data in them', async () => {
    for (const path of ['/dashboard', '/dashboard/app.js', '/dashboard/app.css']) {
      const response = await get(path)
      expect(response.status, path).toBe(200)
      const csp = response.headers.get('content-security-policy')!
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toContain('unsafe')
      expect(response.headers.get('x-frame-options')).toBe('DENY')
      const body = await response.text()
      for (const secret of ['alice', 'team:search', '1.25', 'mallory']) expect(body, path).not.toContain(secret)
    }
    expect((await get('/dashboard')).headers.get('content-type')).toMatch(/^text\/html/)
    const html = await (await get('/dashboard')).text()
    expect(html).not.toMatch(/<script>|\sstyle=|\son[a-z]+=/)
  })

  it('answers the data only with a token', async () => {
    expect((await get('/dashboard/data')).status).toBe(401)
    expect((await get('/dashboard/data', 'not-a-valid-token-at-all-0000')).status).toBe(401)
  })

  it('reports exactly what querySpend and getStatus report, for the tenant only, with no content', async () => {
    const response = await get('/dashboard/data', TOKEN_A)
    expect(response.status).toBe(200)
    const data = await response.json()
    const from = Date.parse(data.from)
    const report = await fixture.a.querySpend({ from })
    expect(data.total).toEqual({
      cost: report.exact.cost,
      calls: report.calls,
      inputTokens: report.inputTokens,
      outputTokens: report.outputTokens,
    })
    const byModel = await fixture.a.querySpend({ from, groupBy: ['model'] })
    for (const group of byModel.groups)
      expect(data.byModel).toContainEqual({ key: group.key.model, cost: group.exact.cost, calls: group.calls })
    const byDay = await fixture.a.querySpend({ from, groupBy: ['day'] })
    for (const group of byDay.groups)
      expect(data.byDay).toContainEqual({ key: group.key.day, cost: group.exact.cost, calls: group.calls })
    expect(data.byDay).toHaveLength(30)
    const byUser = await fixture.a.querySpend({ from, groupBy: ['user'] })
    expect(data.byUser.map((g: { key: string }) => g.key)).toEqual(
      [...byUser.groups].sort((x, y) => Number(BigInt(y.costNanoUsd) - BigInt(x.costNanoUsd))).map((g) => g.key.user),
    )
    for (const budget of data.budgets) {
      const status = await fixture.a.getStatus(budget.scope)
      expect(budget.spend).toBe(status.exact.spend)
      expect(budget.limit).toBe(status.exact.limit)
    }
    expect(data.budgets.map((b: { scope: string }) => b.scope).sort()).toEqual([
      'global:global',
      'team:ads',
      'team:search',
      'user:alice',
    ])
    expect(data.recent).toHaveLength(10)
    const text = JSON.stringify(data)
    expect(text).not.toContain('SECRET PROMPT TEXT')
    expect(text).not.toContain('mallory')
    expect(text).not.toContain('team:other')
    const other = await (await get('/dashboard/data', TOKEN_B)).json()
    expect(other.total.cost).toBe('99.500000000')
    expect(JSON.stringify(other)).not.toContain('alice')
  })

  it('refuses a bad days parameter', async () => {
    expect((await get('/dashboard/data?days=0', TOKEN_A)).status).toBe(400)
    expect((await get('/dashboard/data?days=7', TOKEN_A)).status).toBe(200)
  })

  it("puts the tenant's own per-budget gauges on /metrics", async () => {
    const a = await (await get('/metrics', TOKEN_A)).text()
    const status = await fixture.a.getStatus('team:search')
    expect(a).toContain(`llm_budget_scope_spend_usd{scope="team:search"} ${status.exact.spend}`)
    expect(a).toContain('llm_budget_scope_limit_usd{scope="team:ads"} 5.000000000')
    expect(a).not.toContain('team:other')
    const b = await (await get('/metrics', TOKEN_B)).text()
    expect(b).toContain('llm_budget_scope_spend_usd{scope="team:other"} 99.500000000')
    expect(b).not.toContain('team:search')
  })
})
