// scripts/provision.mjs (run by `npm test` before the tests and by .ci/run): finds the system programs the tests
// start; installs the missing ones with apt-get as root; otherwise prints the exact command and fails. The
// missing cases run the real script with a PATH that hides redis-server and chromium, and an `apt-get` on that
// PATH that only writes down how it was called (nothing is installed).
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/cli.js'

const SCRIPT = join(ROOT, 'scripts', 'provision.mjs')
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-provision-'))
const calls = join(dir, 'apt-get-calls.txt')
writeFileSync(join(dir, 'apt-get'), `#!/bin/sh\necho "$*" >> ${calls}\nexit 0\n`)
chmodSync(join(dir, 'apt-get'), 0o755)
chmodSync(dir, 0o755)
const hasPostgres = existsSync('/usr/lib/postgresql')
const isRoot = process.getuid?.() === 0

afterAll(() => rmSync(dir, { recursive: true, force: true }))

function provision(args: string[], path: string, asNobody = false) {
  const command = asNobody
    ? ['/usr/sbin/runuser', '-u', 'nobody', '--', process.execPath, SCRIPT, ...args]
    : [process.execPath, SCRIPT, ...args]
  const r = spawnSync(command[0]!, command.slice(1), {
    env: { PATH: path, HOME: dir },
    encoding: 'utf8',
    timeout: 30_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('scripts/provision.mjs', () => {
  it('finds everything the tests start on this machine (npm test ran it first)', () => {
    const r = provision([], process.env['PATH'] ?? '')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^provision: found redis-server \(.+\), PostgreSQL \(.+\), chromium \(.+\)\n$/)
  })

  it('--check with programs missing: names them, prints the exact apt-get command, exits 1, installs nothing', () => {
    const r = provision(['--check'], dir)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/missing redis-server and redis-cli: the Redis store tests/)
    expect(r.stderr).toMatch(/missing chromium: the browser tests/)
    expect(r.stderr).toContain(`not installing (--check given)`)
    expect(r.stderr).toContain(
      `apt-get install -y --no-install-recommends redis-server ${hasPostgres ? '' : 'postgresql '}chromium`,
    )
    expect(existsSync(calls)).toBe(false)
  })

  it('as root: runs apt-get update and install for exactly the missing packages, and fails if they are still missing', () => {
    const r = provision([], dir)
    if (!isRoot) {
      // Not root here: the script must not try apt-get (the root path is covered where the suite runs as root, as in CI).
      expect([r.code, existsSync(calls)]).toEqual([1, false])
      return
    }
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([
      'update',
      `install -y --no-install-recommends redis-server ${hasPostgres ? '' : 'postgresql '}chromium`,
    ])
    // The recording apt-get installed nothing: the script says so instead of going on.
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/still missing after installing/)
    rmSync(calls)
  })

  it('not as root: prints the sudo command and exits 1', () => {
    const r = provision([], dir, isRoot)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('not installing (not running as root)')
    expect(r.stderr).toContain('sudo apt-get update && sudo apt-get install -y --no-install-recommends redis-server')
    expect(existsSync(calls)).toBe(false)
  })

  it('refuses an unknown argument', () => {
    const r = provision(['--chek'], dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/unknown argument "--chek"/)
  })
})
