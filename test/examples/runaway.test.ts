// examples/runaway.ts (docs/runaway-protection.md): a stuck loop stopped by the burst limit, admitted again when the
// burst window rolls, and a run budget that stops an agent run. Runs against the built package.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { bundledEntry } from '../helpers/entries.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

describe('examples/runaway.ts', () => {
  it('runs: 5 calls then the burst refuses with $99.95 of the month left; a minute later admitted; the run stops at $0.03', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bundledEntry('example-runaway')], {
      cwd: root,
      timeout: 60_000,
    })
    expect(stdout).toContain('stopped after 5 calls: Budget exceeded for user:agent-7 (burst 1m)')
    expect(stdout).toContain('this month: spent $0.050000000 of $100.000000000')
    expect(stdout).toContain('this minute: spent $0.05 of $0.05 (burst 1m)')
    expect(stdout).toContain('a minute later: admitted again')
    expect(stdout).toContain('run stopped: Budget exceeded for run:research')
    expect(stdout).toContain('the run took 3 steps and spent $0.03')
    expect(stdout).toContain('the LLM was called 9 times')
  })
})
