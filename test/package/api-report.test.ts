// The public surface is deliberate: the report of exported names and public members per subpath, generated from
// the built declarations, must equal the committed api-report.md (update it with `npm run api:update`).
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')

describe('API report', () => {
  it('matches api-report.md', () => {
    const run = spawnSync(process.execPath, ['scripts/api-report.mjs', '--check'], { cwd: root, encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
  })
})
