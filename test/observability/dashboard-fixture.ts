// A real budget server with the dashboard on, two tenants, and real spend written through httpStore.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { BudgetManager } from '../../src/budget/manager.js'
import { createBudgetServer } from '../../src/server/index.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/clock.js'

export const TOKEN_A = 'dashboard-tenant-a-0123456789'
export const TOKEN_B = 'dashboard-tenant-b-0123456789'

export interface DashboardFixture {
  url: string
  /** A manager of tenant A over the server (for querySpend and getStatus). */
  a: BudgetManager
  close(): Promise<void>
}

export async function startDashboardServer(): Promise<DashboardFixture> {
  // One clock for the server and the clients: forecasts depend on the time they are computed at.
  const now = Date.now()
  const clock = fakeClock(now - 3 * 86_400_000)
  const store = memoryStore()
  const server: Server = createBudgetServer({
    store,
    manager: new BudgetManager({ store, clock }),
    auth: { tokens: { [TOKEN_A]: 'a', [TOKEN_B]: 'b' } },
    dashboard: true,
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const a = new BudgetManager({ store: httpStore({ url, token: TOKEN_A }), clock })
  const b = new BudgetManager({ store: httpStore({ url, token: TOKEN_B }), clock })
  await a.setBudget('team:search', { maxBudget: 50, duration: 'monthly', alertThresholds: [0.8] })
  await a.setBudget('team:ads', { maxBudget: 5, duration: 'monthly' })
  await a.setBudget('user:alice', { maxBudget: 20, duration: 'monthly' })
  await a.setBudget('global', { maxBudget: 1000, duration: 'monthly' })
  const calls: [string, string, string, string, number][] = [
    ['alice', 'search', 'gpt-4o', 'openai', 1.25],
    ['bob', 'search', 'claude-sonnet-4-5', 'anthropic', 2.5],
    ['alice', 'ads', 'gpt-4o-mini', 'openai', 0.125],
    ['carol', 'ads', 'gpt-4o', 'openai', 3.75],
    ['alice', 'search', 'gpt-4o', 'openai', 0.333333333],
  ]
  for (let day = 0; day < 3; day++) {
    for (const [user, team, model, provider, cost] of calls.slice(day, day + 3)) {
      await a.record(
        { user, team, provider, metadata: { prompt: 'SECRET PROMPT TEXT' } },
        { cost: cost * (day + 1), model, provider },
      )
      clock.advance(3_600_000)
    }
    clock.advance(86_400_000 - 3 * 3_600_000)
  }
  await a.record(
    { user: 'dave', team: 'search', provider: 'openai' },
    { usage: { prompt_tokens: 12_000, completion_tokens: 800 }, model: 'gpt-4o', provider: 'openai' },
  )
  clock.set(now)
  await b.setBudget('team:other', { maxBudget: 7 })
  await b.record({ user: 'mallory', team: 'other' }, { cost: 99.5, model: 'gpt-4o', provider: 'openai' })
  return {
    url,
    a,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
