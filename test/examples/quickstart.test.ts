import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { bundledEntry } from '../helpers/entries.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const dir = join(mkdtempSync(join(tmpdir(), 'llm-budget-quickstart-')), 'data')
const run = () =>
  promisify(execFile)(process.execPath, [bundledEntry('example-quickstart')], {
    cwd: root,
    timeout: 60_000,
    env: { ...process.env, LLM_BUDGET_DIR: dir },
  })

afterAll(() => rmSync(join(dir, '..'), { recursive: true, force: true }))

describe('examples/quickstart.ts (the README main command, on the file store)', () => {
  it('runs: three calls admitted, one refused before the LLM is called, an exact report', async () => {
    const { stdout } = await run()
    expect(stdout).toContain(`spend is kept in ${dir}/`)
    expect(stdout).toContain('bob asked gpt-4o: Budget exceeded for user:bob model gpt-4o (daily)')
    expect(stdout).toContain('the LLM was called 3 times')
    expect(stdout).toMatch(/endUser:customer-42: spent \$0\.000360000 of \$0\.002000000/)
    expect(stdout).toContain('| total | | 3 | 0.001080000 |')
    expect(readdirSync(dir).length).toBeGreaterThan(0)
  })

  it('remembers on the next run what the first one spent', async () => {
    const { stdout } = await run()
    expect(stdout).toMatch(/endUser:customer-42: spent \$0\.000720000 of \$0\.002000000/)
    expect(stdout).toContain('| total | | 6 | 0.002160000 |')
  })
})
