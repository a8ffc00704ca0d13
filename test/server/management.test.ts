// Management endpoints on a real server, and withBudget from 4 processes through httpStore.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { withBudget } from '../../src/budget/with-budget.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { startBudgetServer, type RunningBudgetServer } from '../helpers/budget-server.js'
import { bundleWorker, type WorkerBundle } from '../helpers/worker-bundle.js'

const TOKEN = 'management-token-0123456789'
const OTHER = 'management-other-0123456789'
// The property under test is admission, not latency: on a loaded CI machine, wait instead of failing.
const PATIENT = { timeoutMs: 30_000, retries: 5, failureThreshold: 1000 }
const WORKER = join(import.meta.dirname, '..', 'stores', 'http-workers', 'client.ts')
// Each worker process runs the worker bundled into one JavaScript file (no tsx loader per process).
let worker: WorkerBundle
beforeAll(async () => {
  worker = await bundleWorker(WORKER)
})
afterAll(() => worker?.remove())

let server: RunningBudgetServer
let url = ''

beforeAll(async () => {
  server = await startBudgetServer({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'm', [OTHER]: 'o' } } })
  url = server.url
})

afterAll(async () => {
  await server.close()
})

async function api(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  token = TOKEN,
): Promise<{ status: number; body: any; type: string | null }> {
  const response = await fetch(url + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // CSV or JSON Lines
  }
  return { status: response.status, body: parsed, type: response.headers.get('content-type') }
}

describe('management endpoints', () => {
  it('creates, reads, updates, increases and deletes a budget; tenants are apart', async () => {
    const created = await api('POST', '/budget/new', {
      scope: 'team:search',
      definition: { maxBudget: 10, duration: 'monthly' },
      reason: 'launch',
    })
    expect(created.status).toBe(200)
    expect(created.body.budget.definition).toMatchObject({ maxBudget: 10, duration: 'monthly' })
    expect((await api('POST', '/budget/new', { scope: 'team:search', definition: { maxBudget: 1 } })).status).toBe(409)
    const info = await api('GET', '/budget/info?scope=team:search')
    expect(info.body.status).toMatchObject({ spend: 0, limit: 10, remaining: 10 })
    expect(typeof info.body.status.resetsAt).toBe('string')
    expect(
      (
        await api('POST', '/budget/update', {
          scope: 'team:search',
          definition: { maxBudget: 20, duration: 'monthly' },
        })
      ).body.budget.definition.maxBudget,
    ).toBe(20)
    const increased = await api('POST', '/budget/update', {
      scope: 'team:search',
      increase: { amount: 5, until: Date.now() + 3_600_000, reason: 'launch week' },
    })
    expect(increased.body.budget.increases).toHaveLength(1)
    expect((await api('GET', '/budget/info?scope=team:search')).body.status.limit).toBe(25)
    // Another tenant sees nothing of it.
    expect((await api('GET', '/budget/info?scope=team:search', undefined, OTHER)).status).toBe(404)
    expect((await api('POST', '/budget/delete', { scope: 'team:search' }, OTHER)).status).toBe(404)
    expect((await api('POST', '/budget/delete', { scope: 'team:search' })).body).toEqual({ deleted: true })
    expect((await api('GET', '/budget/info?scope=team:search')).status).toBe(404)
    expect((await api('POST', '/budget/update', { scope: 'team:search', definition: { maxBudget: 1 } })).status).toBe(
      404,
    )
  })

  it('answers bad management input with 4xx naming the field', async () => {
    const bad = await api('POST', '/budget/new', { scope: 'user:x', definition: { maxBudget: -5 } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe('BUDGET_CONFIG')
    expect(bad.body.error.field).toMatch(/maxBudget/)
    expect((await api('POST', '/budget/new', { scope: 'nonsense', definition: {} })).status).toBe(400)
    expect((await api('GET', '/budget/info')).status).toBe(400)
    expect((await api('GET', '/spend/report?groupBy=planet')).status).toBe(400)
    expect((await api('GET', '/spend/logs?from=yesterday')).status).toBe(400)
    expect((await api('GET', '/spend/logs?limit=0')).status).toBe(400)
  })

  it('serves spend logs (JSON, JSON Lines, CSV) and reports of calls made through httpStore', async () => {
    const manager = new BudgetManager({ store: httpStore({ url, token: TOKEN }) })
    await manager.setBudget('user:logs', { maxBudget: 1 })
    const call = withBudget(async (n: number) => n, {
      manager,
      context: { user: 'logs', tags: ['batch'] },
      estimate: 0.02,
      cost: () => 0.015,
    })
    for (let i = 0; i < 5; i++) await call(i)
    const logs = await api('GET', '/spend/logs?scope=user:logs')
    expect(logs.body.records).toHaveLength(5)
    expect((await api('GET', '/spend/logs?scope=user:logs&limit=2')).body).toMatchObject({ more: true })
    const jsonl = await api('GET', '/spend/logs?scope=user:logs&format=jsonl')
    expect(jsonl.type).toMatch(/ndjson/)
    expect(String(jsonl.body).trim().split('\n')).toHaveLength(5)
    const csv = await api('GET', '/spend/logs?scope=user:logs&format=csv')
    expect(csv.type).toMatch(/csv/)
    const report = await api('GET', '/spend/report?scope=user:logs&groupBy=tag')
    expect(report.body.report).toMatchObject({ calls: 5, exact: { cost: '0.075000000' } })
    expect((await api('GET', '/budget/info?scope=user:logs')).body.status).toMatchObject({ spend: 0.075, limit: 1 })
    expect((await api('GET', '/spend/logs?scope=user:logs', undefined, OTHER)).body.records).toEqual([])
  })

  it('withBudget from 4 processes x 250 concurrent $0.01 calls against a $5 budget made with /budget/new: exactly 500 admitted', async () => {
    expect((await api('POST', '/budget/new', { scope: 'user:burst', definition: { maxBudget: 5 } })).status).toBe(200)
    const runs = Array.from({ length: 4 }, (_, w) => {
      const child = spawn(
        process.execPath,
        [
          worker.path,
          JSON.stringify({
            mode: 'withBudget',
            url,
            token: TOKEN,
            key: 'unused',
            user: 'burst',
            prefix: `w${w}-`,
            calls: 250,
            ...PATIENT,
          }),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      let text = ''
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8')
      })
      return new Promise<string[]>((resolve) => child.on('exit', () => resolve(text.trim().split('\n'))))
    })
    const lines = (await Promise.all(runs)).flat()
    expect(
      lines.filter((l) => !l.startsWith('admitted ') && !l.startsWith('refused ') && l !== 'flushed' && l !== 'closed'),
      'unexpected lines',
    ).toEqual([])
    expect(lines.filter((l) => l.startsWith('admitted ')).length).toBe(500)
    expect(lines.filter((l) => l.startsWith('refused ')).length).toBe(500)
    expect(lines.filter((l) => l.startsWith('denied ')).length).toBe(0)
    const info = await api('GET', '/budget/info?scope=user:burst')
    expect(info.body.status.exact).toMatchObject({ spend: '5.000000000', reserved: '0.000000000' })
    const report = await api('GET', '/spend/report?scope=user:burst')
    expect(report.body.report).toMatchObject({ calls: 500, costNanoUsd: '5000000000' })
  })
})
