// The dashboard in a real headless browser (Debian's chromium driven by playwright-core; no browser download):
// the numbers shown equal querySpend and getStatus, the charts render, the console stays clean, and without a
// token no spend is shown. Screenshots go to a temp dir; UPDATE_SCREENSHOTS=1 writes them to docs/images/ instead
// (how the pictures in docs/dashboard.md are refreshed), so a test run leaves the work tree clean.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Decimal from 'decimal.js'
import { type Browser, type Locator, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DashboardFixture, TOKEN_A, startDashboardServer } from './dashboard-fixture.js'

const IMAGES = process.env.UPDATE_SCREENSHOTS
  ? join(import.meta.dirname, '..', '..', 'docs', 'images')
  : mkdtempSync(join(tmpdir(), 'llm-budget-dashboard-'))

let fixture: DashboardFixture
let browser: Browser
beforeAll(async () => {
  fixture = await startDashboardServer()
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await fixture?.close()
  if (!process.env.UPDATE_SCREENSHOTS) rmSync(IMAGES, { recursive: true, force: true })
})

/**
 * The page's text as a user reads it, computed here with decimal.js: rounded half up to cents from $1 up and to four
 * places below, trailing zeros dropped down to cents, thousands separated ('1234.5' -> '$1,234.50').
 */
function shown(exact: string): string {
  const value = new Decimal(exact)
  const rounded = value.toDecimalPlaces(value.abs().gte(1) ? 2 : 4, Decimal.ROUND_HALF_UP)
  if (rounded.isZero() && !value.isZero()) return `${value.isNeg() ? '-' : ''}<$0.0001`
  const [whole = '0', fraction = ''] = rounded.abs().toFixed().split('.')
  const cents = fraction.length < 2 ? fraction.padEnd(2, '0') : fraction
  return `${rounded.isNeg() ? '-' : ''}$${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents}`
}

/** A money cell shows the rounded amount and keeps the exact one in its title. */
async function expectMoney(cell: Locator, exact: string, label?: string): Promise<void> {
  expect(await cell.textContent(), label).toBe(shown(exact))
  expect(await cell.getAttribute('title'), label).toBe(`$${exact}`)
}

async function openPage(path: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1400 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      problems.push(`${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  const requests: string[] = []
  page.on('request', (request) => requests.push(request.url()))
  await page.goto(fixture.url + path)
  return { page, context, problems, requests }
}

describe('dashboard in headless chromium', () => {
  it('shows every budget, the totals and the breakdowns exactly as querySpend and getStatus report them', async () => {
    const { page, context, problems, requests } = await openPage(`/dashboard#token=${TOKEN_A}`)
    await page.locator('#content').waitFor({ state: 'visible' })
    // The token left the address bar (it was in the fragment, which is never sent to the server).
    expect(page.url()).toBe(`${fixture.url}/dashboard`)
    const data = await (
      await fetch(`${fixture.url}/dashboard/data`, { headers: { authorization: `Bearer ${TOKEN_A}` } })
    ).json()
    const from = Date.parse(data.from)
    const report = await fixture.a.querySpend({ from })
    await expectMoney(page.locator('#total-cost'), report.exact.cost)
    expect(await page.locator('#total-calls').textContent()).toBe(String(report.calls))

    for (const scope of ['team:search', 'team:ads', 'user:alice', 'global:global'] as const) {
      const status = await fixture.a.getStatus(scope)
      const row = page.locator(`#budgets tr[data-scope="${scope}"]`)
      await expectMoney(row.locator('.spend'), status.exact.spend, scope)
      await expectMoney(row.locator('.limit'), status.exact.limit!, scope)
      await expectMoney(row.locator('.forecast'), status.exact.projectedSpend, scope)
      const meter = row.locator('[role="meter"]')
      expect(Number(await meter.getAttribute('aria-valuenow'))).toBeCloseTo(Math.min(100, status.percentUsed!), 6)
      const fill = await meter.locator('span').boundingBox()
      const track = await meter.boundingBox()
      expect(fill!.width / track!.width).toBeCloseTo(Math.min(100, status.percentUsed!) / 100, 1)
    }

    const byModel = await fixture.a.querySpend({ from, groupBy: ['model'] })
    for (const group of byModel.groups) {
      await expectMoney(page.locator(`#chart-model .row[data-key="${group.key.model}"] .value`), group.exact.cost)
    }
    const byTeam = await fixture.a.querySpend({ from, groupBy: ['team'] })
    for (const group of byTeam.groups) {
      await expectMoney(page.locator(`#chart-team .row[data-key="${group.key.team}"] .value`), group.exact.cost)
    }
    // The day chart: one bar per day, bars with spend have height, and the tallest is the most expensive day.
    const byDay = await fixture.a.querySpend({ from, groupBy: ['day'] })
    expect(await page.locator('#chart-day svg rect').count()).toBe(30)
    const heights = new Map<string, number>()
    for (const rect of await page.locator('#chart-day svg rect').all())
      heights.set((await rect.getAttribute('data-day'))!, Number(await rect.getAttribute('height')))
    for (const group of byDay.groups) expect(heights.get(group.key.day!)!, group.key.day).toBeGreaterThan(0)
    const top = [...byDay.groups].sort((x, y) => Number(BigInt(y.costNanoUsd) - BigInt(x.costNanoUsd)))[0]!
    expect(Math.max(...heights.values())).toBe(heights.get(top.key.day!))
    expect(await page.locator('#recent tbody tr').count()).toBe(10)
    expect(await page.locator('body').textContent()).not.toContain('SECRET PROMPT TEXT')
    // Amounts are rounded for reading (the fixture has sums such as 2.999999999 and 0.038): none shows nano digits.
    expect(await page.locator('#content').innerText()).not.toMatch(/\$[\d,]+\.\d{5,}/)
    expect([shown('29.287999999'), shown('0.999999999'), shown('0.038'), shown('0.00000004'), shown('1234.5')]).toEqual(
      ['$29.29', '$1.00', '$0.038', '<$0.0001', '$1,234.50'],
    )
    // Nothing left the origin, and nothing went wrong.
    expect(requests.every((u) => u.startsWith(fixture.url))).toBe(true)
    expect(problems).toEqual([])
    await page.screenshot({ path: join(IMAGES, 'dashboard.png'), fullPage: true })
    await context.close()
  }, 60_000)

  it('shows no spend without a token, and a sign-in that works', async () => {
    const { page, context, problems } = await openPage('/dashboard')
    await page.locator('#signin').waitFor({ state: 'visible' })
    expect(await page.locator('#content').isVisible()).toBe(false)
    const text = (await page.locator('body').innerText()).toLowerCase()
    expect(text).not.toMatch(/\$\d/)
    expect(text).not.toContain('alice')
    await page.screenshot({ path: join(IMAGES, 'dashboard-signin.png') })
    await page.locator('#token').fill('wrong-token-0123456789abcdef')
    await page.locator('#signin-form button').click()
    await page.locator('#signin-error').filter({ hasText: 'refused' }).waitFor()
    expect(await page.locator('#content').isVisible()).toBe(false)
    await page.locator('#token').fill(TOKEN_A)
    await page.locator('#signin-form button').click()
    await page.locator('#content').waitFor({ state: 'visible' })
    expect(await page.locator('#budgets tbody tr').count()).toBe(4)
    // The refused token's 401 is logged by the browser as a failed resource load; nothing else.
    expect(problems.filter((p) => !p.includes('401'))).toEqual([])
    await context.close()
  }, 60_000)
})
