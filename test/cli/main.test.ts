// The CLI as a whole, as a real process: --version, output piped into `head`, and unknown commands and
// options refused with the closest known name.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { fileStore } from '../../src/stores/file.js'
import { CLI_COMMAND, ROOT, runCli } from '../helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'llm-budget-cli-main-'))
const data = join(dir, 'budget-data')
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

/** Runs `llm-budget ...args | head -n 1` in a shell; returns what head printed, the CLI's stderr and exit code. */
async function throughHead(args: string[]): Promise<{ head: string; stderr: string; code: string }> {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`
  const script = `${[...CLI_COMMAND, ...args].map(quote).join(' ')} 2>${quote(join(dir, 'stderr.txt'))} | head -n 1; echo "exit=\${PIPESTATUS[0]}" >&2`
  const child = spawn('bash', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let head = ''
  let status = ''
  child.stdout.on('data', (c: Buffer) => (head += c.toString('utf8')))
  child.stderr.on('data', (c: Buffer) => (status += c.toString('utf8')))
  await new Promise((resolve) => child.on('close', resolve))
  return { head, stderr: readFileSync(join(dir, 'stderr.txt'), 'utf8'), code: status.trim() }
}

beforeAll(async () => {
  // Enough records that the CSV is far larger than a pipe's buffer: the CLI is still writing when head exits.
  // Written with batched syncs: this is the fixture, not the store under test (close() syncs what it wrote).
  const store = fileStore({ path: data, durability: 'batch' })
  const manager = new BudgetManager({ store })
  for (let i = 0; i < 3000; i++)
    await manager.record(
      { user: `user-${i % 50}`, model: 'gpt-4o-mini', tags: ['a-tag-that-makes-the-line-longer'] },
      0.000001 * (i + 1),
    )
  await store.close()
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('llm-budget', () => {
  it('--version, -v and version print the package version', async () => {
    for (const flag of ['--version', '-v', 'version']) {
      const r = await runCli([flag])
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`llm-budget ${version}\n`)
    }
  })

  it('output piped into head ends quietly: no EPIPE stack trace, exit 0', async () => {
    const r = await throughHead(['report', '--store', `file:${data}`, '--format', 'csv'])
    expect(r.head).toMatch(/^[a-zA-Z]/) // the CSV header line
    expect(r.head.split('\n').filter(Boolean)).toHaveLength(1)
    expect(r.stderr).toBe('')
    expect(r.code).toBe('exit=0')
  })

  it('an unknown command suggests the closest one', async () => {
    const r = await runCli(['reprot'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/unknown command `reprot`\. Did you mean `report`\?/)
  })

  it.each([
    [['cost', 'gpt-4o', '--input', '1', '--ouput', '1'], /unknown option --ouput; did you mean --output\?/],
    [['serve', '--token-fil', 'x'], /unknown option --token-fil; did you mean --token-file\?/],
    [['prices', 'update', '--form', 'x.json'], /unknown option --form; did you mean --from\?/],
    [['report', '--store', 'memory', '--zzzzzzzz'], /unknown option --zzzzzzzz \(options: --store, /],
  ])('refuses an unknown option with the closest known one: %j', async (args, message) => {
    const r = await runCli(args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })
})
