// The public surface is deliberate: the report of exported names and public members per subpath, generated from
// the built declarations, must equal the committed api-report.md (update it with `npm run api:update`).
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')

describe('API report', () => {
  it('matches api-report.md', () => {
    const run = spawnSync(process.execPath, ['scripts/api-report.mjs', '--check'], { cwd: root, encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    // It compiles the declarations: a minute or more on a busy 2-core machine.
  }, 180_000)
})

describe('internal names stay out of the published declarations', () => {
  const INTERNAL = [
    'reserveResolved',
    'priceCommit',
    'writeCommit',
    'writeRelease',
    'resolveInternal',
    'atTime',
    'EntryMeta',
    'CompiledBudget',
    'BudgetPolicy',
    'openAIAdapter',
    'anthropicAdapter',
    'googleAdapter',
    'admitCall',
    'accumulatingTracker',
    'meterIterable',
    'cohereAdapter',
    'mapRefusals',
    'BudgetHttpClient',
    'FileStoreFaults',
  ]
  it('no built .d.ts mentions them', () => {
    const dist = resolve(root, 'dist')
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.d.ts') || f.endsWith('.d.cts'),
    )
    expect(files.length).toBeGreaterThan(10)
    const found = files.flatMap((f) => {
      const text = readFileSync(join(dist, f), 'utf8')
      return INTERNAL.filter((name) => new RegExp(`\\b${name}\\b`).test(text)).map((name) => `${f}: ${name}`)
    })
    expect(found).toEqual([])
  })
})
