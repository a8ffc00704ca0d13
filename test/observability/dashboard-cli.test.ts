// `llm-budget dashboard` as a real process over a file store: prints a fresh token, serves the page, answers the
// data only with that token (equal to querySpend), and exits 0 on SIGTERM.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { fileStore } from '../../src/stores/file.js'
import { bundledEntry } from '../helpers/entries.js'

const MAIN = bundledEntry('cli') // src/cli/main.ts, bundled once per run
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-dashboard-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function start(): Promise<{
  url: string
  token: string
  exit: Promise<number | null>
  kill: () => void
  output: () => string
}> {
  const child = spawn(process.execPath, [MAIN, 'dashboard', '--store', `file:${dir}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const found = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      const match = /open (http:\/\/127\.0\.0\.1:\d+)\/dashboard#token=([A-Za-z0-9_-]+)/.exec(output)
      if (match) resolve({ url: match[1]!, token: match[2]! })
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exit.then(() => reject(new Error(`dashboard exited: ${output}`)))
  })
  return { ...found, exit, kill: () => child.kill('SIGTERM'), output: () => output }
}

describe('llm-budget dashboard', () => {
  it('serves the store behind a fresh token and stops on SIGTERM', async () => {
    const store = fileStore({ path: dir })
    const manager = new BudgetManager({ store })
    await manager.setBudget('team:search', { maxBudget: 10, duration: 'monthly' })
    await manager.record({ team: 'search', user: 'alice' }, { cost: 1.5, model: 'gpt-4o', provider: 'openai' })
    await manager.record({ team: 'search', user: 'bob' }, { cost: 0.25, model: 'gpt-4o-mini', provider: 'openai' })
    const report = await manager.querySpend()
    await store.close()

    const first = await start()
    try {
      expect((await fetch(`${first.url}/dashboard`)).status).toBe(200)
      expect((await fetch(`${first.url}/dashboard/data`)).status).toBe(401)
      expect((await fetch(`${first.url}/dashboard/data`, { headers: { authorization: 'Bearer nope' } })).status).toBe(
        401,
      )
      const data = await (
        await fetch(`${first.url}/dashboard/data`, { headers: { authorization: `Bearer ${first.token}` } })
      ).json()
      expect(data.total.cost).toBe(report.exact.cost)
      expect(data.budgets[0]).toMatchObject({ scope: 'team:search', spend: '1.750000000', limit: '10.000000000' })
    } finally {
      first.kill()
    }
    expect(await first.exit).toBe(0)
    // Each run prints a new token; the old one no longer opens anything.
    const second = await start()
    try {
      expect(second.token).not.toBe(first.token)
      expect(
        (await fetch(`${second.url}/dashboard/data`, { headers: { authorization: `Bearer ${first.token}` } })).status,
      ).toBe(401)
    } finally {
      second.kill()
    }
    expect(await second.exit).toBe(0)
  }, 60_000)

  it('exits 2 without --store', async () => {
    const child = spawn(process.execPath, [MAIN, 'dashboard'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2)
    expect(output).toMatch(/--store is required/)
  }, 30_000)
})
