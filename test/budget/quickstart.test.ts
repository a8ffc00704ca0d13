import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('examples/quickstart.ts', () => {
  it('runs: three calls admitted, one refused before the LLM is called, an exact report', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], { cwd: root, timeout: 60_000 })
    expect(stdout).toContain('bob asked gpt-4o: Budget exceeded for user:bob model gpt-4o (daily)')
    expect(stdout).toContain('the LLM was called 3 times')
    expect(stdout).toMatch(/endUser:customer-42: spent \$0\.000360000 of \$0\.002000000/)
    expect(stdout).toContain('| total | | 3 | 0.001080000 |')
  })
})
