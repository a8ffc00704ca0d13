import { describe, expect, it } from 'vitest'
import { routeAlerts, subscribeAlerts } from '../../src/budget/alert-routing.js'
import { type AlertEvent, alertPayload, alertText } from '../../src/budget/alerts.js'
import type { ForecastExceededEvent } from '../../src/budget/events.js'
import { forecastWindow } from '../../src/budget/forecast.js'
import { BudgetManager } from '../../src/budget/manager.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/clock.js'

const DAY = 86_400_000
const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

describe('forecast', () => {
  it('projects the window average to the window end and says when the limit is reached', () => {
    const start = Date.UTC(2026, 10, 1)
    const end = Date.UTC(2026, 11, 1)
    // $10 in 10 of 30 days: $30 by the end; a $20 limit is reached on day 20.
    const f = forecastWindow({ start, end, now: start + 10 * DAY, spentNano: 10e9, reservedNano: 0, limitNano: 20e9 })
    expect(f).toEqual({ projectedNano: 30e9, exhaustsAt: start + 20 * DAY })
    expect(
      forecastWindow({ start, end, now: start + 10 * DAY, spentNano: 10e9, reservedNano: 0, limitNano: 40e9 })
        .exhaustsAt,
    ).toBeNull()
    expect(
      forecastWindow({ start, end, now: start + 10 * DAY, spentNano: 25e9, reservedNano: 0, limitNano: 20e9 })
        .exhaustsAt,
    ).toBe(start + 10 * DAY)
    expect(forecastWindow({ start: null, end: null, now: 5, spentNano: 7, reservedNano: 0, limitNano: null })).toEqual({
      projectedNano: 7,
      exhaustsAt: null,
    })
  })

  it('getStatus returns projectedSpend and exhaustsAt', async () => {
    const clock = fakeClock('2026-11-11T00:00:00Z')
    const manager = new BudgetManager({ clock })
    await manager.setBudget('team:a', { maxBudget: 20, duration: 'monthly' })
    await manager.record({ team: 'a' }, { cost: 10 })
    const status = await manager.getStatus('team:a')
    expect(status.projectedSpend).toBe(30)
    expect(status.exact.projectedSpend).toBe('30.000000000')
    expect(status.exhaustsAt).toEqual(new Date('2026-11-21T00:00:00Z'))
  })

  it('raises forecast.exceeded once per scope and window across two instances, and again next window', async () => {
    const clock = fakeClock('2026-11-11T00:00:00Z')
    const store = memoryStore()
    const one = new BudgetManager({ clock, store })
    const two = new BudgetManager({ clock, store })
    await one.setBudget('team:a', { maxBudget: 30, duration: 'monthly' })
    const seen: ForecastExceededEvent[] = []
    one.on('forecast.exceeded', (e) => void seen.push(e))
    two.on('forecast.exceeded', (e) => void seen.push(e))
    await one.record({ team: 'a' }, { cost: 9 }) // projects $27: under
    await settle()
    expect(seen).toHaveLength(0)
    await two.record({ team: 'a' }, { cost: 2 }) // projects $33: over
    await settle()
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ scope: 'team:a', projectedSpend: 33, limit: 30, spend: 11 })
    expect(seen[0]!.window.id).toBe(seen[0]!.window.id)
    // Ten days later the projection has fallen under the limit; crossing it again in the same window is not news.
    clock.advance(10 * DAY)
    await one.record({ team: 'a' }, { cost: 12 })
    await two.record({ team: 'a' }, { cost: 0.5 })
    await settle()
    expect(seen).toHaveLength(1)
    // December: a new window, a new alert.
    clock.set('2026-12-02T00:00:00Z')
    await two.record({ team: 'a' }, { cost: 5 })
    await settle()
    expect(seen).toHaveLength(2)
    expect(seen[1]!.window.id).not.toBe(seen[0]!.window.id)
    expect(alertPayload(seen[1]!)).toMatchObject({ event: 'forecast.exceeded', scope: 'team:a' })
    expect(alertText(seen[1]!)).toMatch(/projected to spend \$\d+.*over its limit of \$30/)
  })
})

describe('alert routing', () => {
  it('routes by scope pattern and event, with a fallback', async () => {
    const clock = fakeClock('2026-11-11T00:00:00Z')
    const manager = new BudgetManager({ clock })
    await manager.setBudget('team:a', { maxBudget: 10, duration: 'monthly', alertThresholds: [0.5] })
    await manager.setBudget('user:u', { maxBudget: 10, duration: 'monthly', alertThresholds: [0.5] })
    await manager.setBudget('org:o', { maxBudget: 10, duration: 'monthly', alertThresholds: [0.5] })
    const teams: AlertEvent[] = []
    const users: AlertEvent[] = []
    const rest: AlertEvent[] = []
    const off = subscribeAlerts(
      manager,
      routeAlerts(
        [
          { scopes: ['team:*'], sink: (e) => void teams.push(e) },
          { scopes: ['user:*'], events: ['threshold.crossed'], sink: (e) => void users.push(e) },
        ],
        (e) => void rest.push(e),
      ),
    )
    await manager.record({ team: 'a', user: 'u', org: 'o' }, { cost: 6 })
    await settle()
    expect(teams.map((e) => e.scope).sort()).toEqual(['team:a', 'team:a']) // threshold and forecast
    expect(users.map((e) => e.scope)).toEqual(['user:u'])
    // user:u's forecast alert matched no route with that event: it goes to the fallback with org:o's alerts.
    expect(rest.map((e) => e.scope).sort()).toEqual(['org:o', 'org:o', 'user:u'])
    off()
    await manager.record({ team: 'a' }, { cost: 100 })
    await settle()
    expect(teams).toHaveLength(2)
  })

  it('refuses bad routes', () => {
    expect(() => routeAlerts([])).toThrow(/routes/)
    expect(() => routeAlerts([{ scopes: [], sink: () => undefined }])).toThrow(/scopes/)
    expect(() => routeAlerts([{ scopes: ['team:*'], sink: () => undefined, events: ['nope' as never] }])).toThrow(
      /events/,
    )
  })
})
