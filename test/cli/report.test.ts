// `llm-budget report` on real stores: a file store in a temporary directory, a real redis-server, and a server tenant's
// namespace. The data is written through BudgetManager in this process, then the store is closed and the CLI reads it.
// The full report and a store that cannot answer run the CLI as a real process (src/cli/main.ts, bundled once per run:
// exit codes, stdout and stderr as a shell sees them); the other tests run the same command in this process
// (runCliHere), which prints the same lines without a Node start per run.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { tenantStore } from '../../src/stores/tenant.js'
import { fileStore } from '../../src/stores/file.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { runCli, runCliHere } from '../helpers/cli.js'
import { startRedisServer } from '../helpers/redis-server.js'

const dir = mkdtempSync(join(tmpdir(), 'llm-budget-report-'))
const data = join(dir, 'budget-data')

/** Runs the CLI in this process. */
const cli = (...args: string[]) => runCliHere(args, { cwd: dir })
/** Runs the CLI as a real process. */
const spawned = (...args: string[]) => runCli(args, { cwd: dir })

const day = (d: string, h = 12): number => Date.parse(`${d}T${String(h).padStart(2, '0')}:00:00Z`)

/** Spend written into every store under test; costs chosen so that float sums are not exact. */
const CALLS: Array<{
  at: number
  context: { user?: string; team?: string; model: string; provider?: string; tags?: string[] }
  cost: number
}> = [
  {
    at: day('2026-11-01', 9),
    context: { user: 'alice', team: 'search', model: 'gpt-4o', provider: 'openai', tags: ['batch', 'eu'] },
    cost: 0.1,
  },
  {
    at: day('2026-11-01', 18),
    context: { user: 'alice', team: 'search', model: 'gpt-4o-mini', provider: 'openai' },
    cost: 0.2,
  },
  {
    at: day('2026-11-02', 8),
    context: { user: 'bob', team: 'search', model: 'claude-sonnet-4-5', provider: 'anthropic', tags: ['eu'] },
    cost: 1.000000001,
  },
  { at: day('2026-11-02', 23), context: { user: 'bob', model: 'gpt-4o', provider: 'openai' }, cost: 0.3 },
  { at: day('2026-11-03', 0), context: { user: 'alice', model: 'gpt-4o', provider: 'openai' }, cost: 2.5 },
  {
    at: day('2026-11-30', 12),
    context: { user: 'carol', team: 'ads', model: 'gpt-4o-mini', provider: 'openai' },
    cost: 0.000000007,
  },
]
/** Exact sum of CALLS. */
const TOTAL = '4.100000008'

async function populate(store: BudgetStore): Promise<void> {
  let now = day('2026-11-01', 0)
  const manager = new BudgetManager({ store, clock: { now: () => now } })
  await manager.setBudget('user:alice', { maxBudget: 10 })
  await manager.setBudget('team:search', { maxBudget: 2, duration: 'daily' })
  for (const call of CALLS) {
    now = call.at
    await manager.record(call.context, call.cost)
  }
}

/** The nano-USD value of a `$1.25`-style exact amount. */
function nano(money: string): bigint {
  const [whole, fraction = ''] = money.replace(/^\$/, '').split('.')
  return BigInt(whole!) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0'))
}

/** Rows of the table section whose title starts with `title`: [label, cost, calls]. */
function rows(stdout: string, title: string): Array<[string, string, number]> {
  const lines = stdout.split('\n')
  const start = lines.findIndex((l) => l.startsWith(title))
  expect(start, `section ${title}`).toBeGreaterThanOrEqual(0)
  const out: Array<[string, string, number]> = []
  for (const line of lines.slice(start + 2)) {
    if (line.trim() === '' || line.startsWith('  (a call')) break
    const match = /^ {2}(.+?)\s+(\$\d+\.\d+)\s+(\d+)\s+[\d.]+%/.exec(line)
    expect(match, line).not.toBeNull()
    out.push([match![1]!, match![2]!, Number(match![3])])
  }
  return out
}

beforeAll(async () => {
  const store = fileStore({ path: data })
  await populate(store)
  await store.close()
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('llm-budget report on a file store', () => {
  it('prints sections by day, model and scope with bars, exact totals and budget status', async () => {
    const r = await spawned('report', '--store', `file:${data}`)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const days = rows(r.stdout, 'Spend by day')
    expect(days.map(([d]) => d)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-30'])
    expect(days.map(([, c]) => c)).toEqual(['$0.30', '$1.300000001', '$2.50', '$0.000000007'])
    for (const title of ['Spend by day', 'Spend by model', 'Spend by user', 'Spend by team', 'Spend by provider']) {
      const section = rows(r.stdout, title)
      expect(
        section.reduce((s, [, c]) => s + nano(c), 0n),
        title,
      ).toBe(nano(TOTAL))
      expect(
        section.reduce((s, [, , n]) => s + n, 0),
        title,
      ).toBe(CALLS.length)
    }
    expect(rows(r.stdout, 'Spend by user')[0]).toEqual(['alice', '$2.80', 3])
    // Tags: a call with two tags counts in both, and untagged calls are `(none)`.
    expect(rows(r.stdout, 'Spend by tag')).toEqual([
      ['(none)', '$3.000000007', 4],
      ['eu', '$1.100000001', 2],
      ['batch', '$0.10', 1],
    ])
    expect(r.stdout).toContain(`Total: $4.100000008 (4100000008 nano-USD) in 6 calls`)
    // The largest day has the full 30-character bar; the others are shorter.
    expect(r.stdout).toMatch(/2026-11-03 +\$2\.50 +1 +61\.0% +█{30}\n/)
    expect(r.stdout).toMatch(/2026-11-01 +\$0\.30 +2 +7\.3% +█{3}▌\n/)
    expect(r.stdout).not.toContain('\u001b[')
    // Budgets: alice has no window (all her spend counts); team:search is daily (resets at a future midnight UTC).
    expect(r.stdout).toMatch(/Budgets \(current window\)/)
    expect(r.stdout).toMatch(/user:alice +\$2\.80 +\$10\.00 +28\.0% +never +█{5}▌/)
    const team = /team:search +\$[\d.]+ +\$2\.00 +[\d.]+% +(\S+)/.exec(r.stdout)
    expect(team).not.toBeNull()
    expect(team![1]).toMatch(/^\d{4}-\d\d-\d\dT00:00:00\.000Z$/)
    expect(Date.parse(team![1]!)).toBeGreaterThan(Date.now())
  })

  it('filters by --from/--to (inclusive day), --scope and --model, and groups by --group-by', async () => {
    const r = await cli(
      'report',
      '--store',
      `file:${data}`,
      '--from',
      '2026-11-01',
      '--to',
      '2026-11-02',
      '--group-by',
      'day,model',
      '--scope',
      'team:search',
    )
    expect(r.code).toBe(0)
    expect(rows(r.stdout, 'Spend by day and model')).toEqual([
      ['2026-11-01 / gpt-4o', '$0.10', 1],
      ['2026-11-01 / gpt-4o-mini', '$0.20', 1],
      ['2026-11-02 / claude-sonnet-4-5', '$1.000000001', 1],
    ])
    expect(r.stdout).toContain('Total: $1.300000001 (1300000001 nano-USD) in 3 calls')
    // Only the scope's own budget.
    expect(r.stdout).toMatch(/team:search/)
    expect(r.stdout).not.toMatch(/user:alice/)
    const instant = await cli(
      'report',
      '--store',
      `file:${data}`,
      '--from',
      '2026-11-02T12:00:00Z',
      '--to',
      '2026-11-03T00:00:00Z',
      '--model',
      'gpt-4o',
      '--format',
      'json',
    )
    const json = JSON.parse(instant.stdout) as { totals: { cost: string; calls: number } }
    expect(json.totals).toMatchObject({ cost: '0.300000000', calls: 1 })
  })

  it('--format json has totals equal to the sum of every section and the budget status', async () => {
    const r = await cli('report', '--store', `file:${data}`, '--format', 'json')
    expect(r.code).toBe(0)
    const json = JSON.parse(r.stdout) as {
      totals: { cost: string; costNanoUsd: string; calls: number }
      sections: Array<{ groupBy: string[]; groups: Array<{ cost: string; costNanoUsd: string; calls: number }> }>
      budgets: Array<{
        scope: string
        exact: { spend: string; limit: string }
        percentUsed: number
        resetsAt: string | null
      }>
    }
    expect(json.totals).toMatchObject({ cost: TOTAL, costNanoUsd: '4100000008', calls: 6 })
    expect(json.sections.map((s) => s.groupBy.join())).toEqual(['day', 'model', 'user', 'team', 'tag', 'provider'])
    for (const s of json.sections.filter((x) => x.groupBy[0] !== 'tag')) {
      expect(
        s.groups.reduce((sum, g) => sum + BigInt(g.costNanoUsd), 0n),
        s.groupBy.join(),
      ).toBe(4100000008n)
    }
    expect(json.budgets.map((b) => b.scope)).toEqual(['team:search', 'user:alice'])
    expect(json.budgets[1]).toMatchObject({
      exact: { spend: '2.800000000', limit: '10.000000000' },
      percentUsed: 28,
      resetsAt: null,
    })
  })

  it('--format csv and jsonl print records, or groups with --group-by', async () => {
    const csv = await cli('report', '--store', `file:${data}`, '--format', 'csv')
    expect(csv.code).toBe(0)
    const lines = csv.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^callId,startedAt,endedAt,model,/)
    expect(lines).toHaveLength(CALLS.length + 1)
    const grouped = await cli('report', '--store', `file:${data}`, '--format', 'csv', '--group-by', 'user')
    expect(grouped.stdout.trim().split('\n')).toEqual([
      'user,cost,calls,inputTokens,outputTokens,estimatedCalls',
      'alice,2.800000000,3,0,0,0',
      'bob,1.300000001,2,0,0,0',
      'carol,0.000000007,1,0,0,0',
    ])
    const jsonl = await cli('report', '--store', `file:${data}`, '--format', 'jsonl', '--group-by', 'model')
    const groups = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { model: string; cost: string })
    expect(groups.map((g) => `${g.model}=${g.cost}`)).toEqual([
      'claude-sonnet-4-5=1.000000001',
      'gpt-4o=2.900000000',
      'gpt-4o-mini=0.200000007',
    ])
    const records = await cli('report', '--store', `file:${data}`, '--format', 'jsonl', '--scope', 'user:bob')
    expect(
      records.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { costNanoUsd: number }).costNanoUsd),
    ).toEqual([1000000001, 300000000])
  })

  it('--limit N shows N rows and folds the earliest days or the smallest groups into one more line that keeps the sum exact; --ascii draws #', async () => {
    const r = await cli('report', '--store', `file:${data}`, '--group-by', 'day', '--limit', '2', '--ascii')
    expect(r.code).toBe(0)
    const section = rows(r.stdout, 'Spend by day')
    // Days keep the latest rows; the earlier ones are summed into one line: 0.30 + 1.300000001.
    expect(section).toEqual([
      ['(2 earlier)', '$1.600000001', 4],
      ['2026-11-03', '$2.50', 1],
      ['2026-11-30', '$0.000000007', 1],
    ])
    expect(r.stdout).toMatch(/2026-11-03 .* #{30}\n/)
    const users = await cli('report', '--store', `file:${data}`, '--group-by', 'user', '--limit', '2', '--ascii')
    expect(rows(users.stdout, 'Spend by user')).toEqual([
      ['alice', '$2.80', 3],
      ['bob', '$1.300000001', 2],
      ['(1 more)', '$0.000000007', 1],
    ])
    expect(users.stdout).toMatch(/alice .* #{30}\n/)
    expect(r.stdout).not.toMatch(/[█▏▎▍▌▋▊▉]/)
  })

  it('--limit 1 prints one row and the sum of the others (it printed none)', async () => {
    const users = await cli('report', '--store', `file:${data}`, '--group-by', 'user', '--limit', '1')
    expect(rows(users.stdout, 'Spend by user')).toEqual([
      ['alice', '$2.80', 3],
      ['(2 more)', '$1.300000008', 3],
    ])
    const days = await cli('report', '--store', `file:${data}`, '--group-by', 'day', '--limit', '1')
    expect(rows(days.stdout, 'Spend by day')).toEqual([
      ['(3 earlier)', '$4.100000001', 5],
      ['2026-11-30', '$0.000000007', 1],
    ])
  })

  it('--store memory says why it is empty: a memory store lives in the process that wrote it', async () => {
    const r = await cli('report', '--store', 'memory')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^No spend records and no budgets in memory/)
    expect(r.stdout).toMatch(
      /`report` runs in a new process, so it starts empty: point --store at the store your application writes to/,
    )
    const json = await cli('report', '--store', 'memory', '--format', 'json')
    expect(json.stderr).toMatch(/runs in a new process/)
  })

  it('an empty store and an empty range print a clear message and exit 0', async () => {
    const empty = join(dir, 'empty-store')
    mkdirSync(empty)
    const r = await cli('report', '--store', `file:${empty}`)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^No spend records and no budgets in file .*empty-store \(all records\)\.\n$/)
    const json = await cli('report', '--store', `file:${empty}`, '--format', 'json')
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ totals: { cost: '0.000000000', calls: 0 }, budgets: [] })
    expect(json.stderr).toMatch(/No spend records/)
    const range = await cli('report', '--store', `file:${data}`, '--from', '2027-01-01')
    expect(range.code).toBe(0)
    expect(range.stdout).toMatch(/No spend records in this range\./)
    expect(range.stdout).toMatch(/user:alice/)
  })

  it.each([
    [[], /--store is required/],
    [['--store', 'mysql://x'], /--store must be memory, file:<dir>, redis:\/\/host:port or postgres/],
    [['--store', 'file:'], /needs a directory/],
    [['--store', 'file:./no-such-dir'], /no store at \.\/no-such-dir/],
    [['--store', 'file:x', '--from', '2026-13-01'], /--from 2026-13-01 is not a calendar date/],
    [['--store', 'file:x', '--from', 'yesterday'], /--from must be a date/],
    [['--store', 'file:x', '--from', '2026-02-30'], /not a calendar date/],
    [['--store', 'file:x', '--from', '2026-11-01T10:00'], /--from must be a date .* with a zone/],
    [['--store', 'file:x', '--from', '2026-11-05', '--to', '2026-11-01'], /is not before --to/],
    [['--store', 'file:x', '--group-by', 'week'], /--group-by takes day, month, model/],
    [['--store', 'file:x', '--group-by', 'day,day'], /lists day twice/],
    [['--store', 'file:x', '--scope', 'planet:mars'], /--scope/],
    [['--store', 'file:x', '--format', 'xml'], /--format must be table, csv, jsonl, json/],
    [['--store', 'file:x', '--limit', '0'], /--limit must be/],
    [['--store', 'file:x', '--bogus'], /unknown option --bogus \(options: --store, --from/],
    [['--store', 'file:x', '--scop', 'user:a'], /unknown option --scop; did you mean --scope\?/],
    [['--store', 'file:x', '--group_by', 'day'], /unknown option --group_by; did you mean --group-by\?/],
    [['--store', 'file:x', 'extra'], /unexpected argument/],
  ])('bad arguments exit 2 with a clear message: %j', async (args, message) => {
    const r = await cli('report', ...args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stdout).toBe('')
  })
})

describe('llm-budget report on other stores', () => {
  it('reads a real Redis store', async () => {
    const redis = await startRedisServer()
    const client = new Redis(redis.port, '127.0.0.1')
    try {
      const store = redisStore({ client })
      await populate(store)
      await store.close()
      const r = await cli('report', '--store', redis.url, '--format', 'json')
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const json = JSON.parse(r.stdout) as {
        store: string
        totals: { cost: string; calls: number }
        budgets: Array<{ scope: string }>
      }
      expect(json.store).toBe(`redis 127.0.0.1:${redis.port}`)
      expect(json.totals).toMatchObject({ cost: TOTAL, calls: 6 })
      expect(json.budgets.map((b) => b.scope)).toEqual(['team:search', 'user:alice'])
      const table = await cli('report', '--store', redis.url, '--group-by', 'user')
      expect(rows(table.stdout, 'Spend by user')).toEqual([
        ['alice', '$2.80', 3],
        ['bob', '$1.300000001', 2],
        ['carol', '$0.000000007', 1],
      ])
    } finally {
      client.disconnect()
      await redis.stop()
    }
  })

  it('a store that cannot answer (Redis down) exits 1 with the store error', async () => {
    const redis = await startRedisServer()
    const url = redis.url
    await redis.stop()
    const r = await spawned('report', '--store', url)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^llm-budget report: redis store: .*failed/)
    expect(r.stderr).not.toMatch(/Unhandled error event/)
    expect(r.stdout).toBe('')
  })

  it('separates the tenants of a budget server store; --tenant shows one', async () => {
    const path = join(dir, 'tenants')
    const store = fileStore({ path })
    await populate(tenantStore(store, 'acme', (_op, run) => run()))
    const other = new BudgetManager({
      store: tenantStore(store, 'globex', (_op, run) => run()),
      clock: { now: () => day('2026-11-05') },
    })
    await other.setBudget('user:alice', { maxBudget: 1 })
    await other.record({ user: 'alice', model: 'gpt-4o' }, 0.25)
    await store.close()
    const all = await cli('report', '--store', `file:${path}`, '--format', 'json')
    const allJson = JSON.parse(all.stdout) as {
      totals: { cost: string }
      budgets: Array<{ scope: string; exact: { spend: string } }>
    }
    expect(allJson.totals.cost).toBe('4.350000008')
    expect(allJson.budgets.map((b) => `${b.scope}=${b.exact.spend}`)).toEqual([
      'acme/team:search=0.000000000',
      'acme/user:alice=2.800000000',
      'globex/user:alice=0.250000000',
    ])
    const one = await cli('report', '--store', `file:${path}`, '--tenant', 'globex', '--format', 'json')
    const oneJson = JSON.parse(one.stdout) as {
      totals: { cost: string; calls: number }
      budgets: Array<{ scope: string }>
    }
    expect(oneJson.totals).toMatchObject({ cost: '0.250000000', calls: 1 })
    expect(oneJson.budgets.map((b) => b.scope)).toEqual(['user:alice'])
  })

  it('help lists report and prices; report --help prints every option', async () => {
    const help = await cli('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/report .*--store/)
    expect(help.stdout).toMatch(/prices .*update --from/)
    const usage = await cli('report', '--help')
    expect(usage.code).toBe(0)
    for (const option of [
      '--store',
      '--from',
      '--to',
      '--group-by',
      '--scope',
      '--model',
      '--tags',
      '--tenant',
      '--format',
      '--limit',
      '--ascii',
    ])
      expect(usage.stdout).toContain(option)
  })
})
