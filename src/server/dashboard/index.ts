/**
 * The dashboard of the budget server (`createBudgetServer({ ..., dashboard: true })`): static assets at
 * `/dashboard`, `/dashboard/app.js` and `/dashboard/app.css` (no data, no token needed), and the tenant's data
 * at `GET /dashboard/data` (bearer token required; each tenant sees only its own store view).
 *
 * @internal Used by the handler.
 */
import { BudgetManager, type BudgetManagerOptions } from '../../budget/manager.js'
import { scopeGaugesText } from '../../budget/metrics.js'
import { InvalidInputError } from '../../errors.js'
import type { BudgetStore } from '../../stores/types.js'
import type { CoreResponse, Route } from '../handler.js'
import { dashboardData } from './data.js'
import { DASHBOARD_CSP, DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_ICON } from './page.js'
import { DASHBOARD_JS } from './script.js'

const SECURITY_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

const ASSETS: Record<string, { type: string; body: string }> = {
  '/dashboard': { type: 'text/html; charset=utf-8', body: DASHBOARD_HTML },
  '/dashboard/': { type: 'text/html; charset=utf-8', body: DASHBOARD_HTML },
  '/dashboard/app.js': { type: 'text/javascript; charset=utf-8', body: DASHBOARD_JS },
  '/dashboard/app.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
  '/dashboard/favicon.svg': { type: 'image/svg+xml', body: DASHBOARD_ICON },
}

/** The static answer for a dashboard path, or `undefined` when `path` is not one. */
export function dashboardAsset(path: string): CoreResponse | undefined {
  const asset = ASSETS[path]
  if (asset === undefined) return undefined
  return {
    status: 200,
    headers: { 'content-type': asset.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS },
    body: asset.body,
  }
}

/** One manager per tenant over the tenant's view of the store (for the dashboard data and the tenant's gauges). */
export function tenantManagers(
  managerOptions: Omit<BudgetManagerOptions, 'store'>,
): (tenant: string, store: BudgetStore) => BudgetManager {
  const managers = new Map<string, { store: BudgetStore; manager: BudgetManager }>()
  return (tenant, store) => {
    const cached = managers.get(tenant)
    if (cached !== undefined && cached.store === store) return cached.manager
    const manager = new BudgetManager({ ...managerOptions, store })
    if (managers.size >= 1000) managers.delete(managers.keys().next().value!)
    managers.set(tenant, { store, manager })
    return manager
  }
}

/** `GET /dashboard/data?days=30` (1 to 366 days, default 30). */
export function dashboardRoutes(
  managerOf: (tenant: string, store: BudgetStore) => BudgetManager,
): Record<string, Route> {
  return {
    '/dashboard/data': {
      name: 'dashboard.data',
      method: 'GET',
      body: false,
      run: (context) => {
        const raw = context.query.get('days')
        const days = raw === null ? 30 : /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN
        if (!(days >= 1 && days <= 366))
          throw new InvalidInputError('days', '`days` must be a whole number from 1 to 366')
        return dashboardData(managerOf(context.tenant, context.store), days)
      },
    },
  }
}

/** The per-budget gauges of one tenant (its own budgets only), appended to the server's `/metrics`. */
export function tenantGauges(manager: BudgetManager): Promise<string> {
  return scopeGaugesText(manager)
}
