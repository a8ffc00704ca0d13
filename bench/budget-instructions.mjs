// The instructions one call of bench/budget.bench.mjs costs (withBudget, 4 scopes, memoryStore), counted by valgrind's
// callgrind on the whole Node process: a run of WARM + COUNT calls minus a run of WARM calls, over COUNT. Node runs
// single-threaded with fixed hash and random seeds and a fixed 16 MB semi-space, and the manager on a stepped clock
// (below), so that both runs make the same scavenges and sweeps; the long window includes every record trim and GC of the calls, so runs of one build agree within a few
// percent, whatever the load of the machine (wall times on a shared machine do not). Not run by `npm run bench` (it
// needs valgrind and takes a few minutes per build).
//
// Usage: npm run build && node bench/budget-instructions.mjs
//        (LLM_BUDGET_DIST=path/to/dist for another build, WARM=n and COUNT=n calls, META=1 for context metadata)
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { countInstructions, requireTools } from './callgrind.mjs'

const T0 = Date.UTC(2026, 11, 7)
const WARM = Number(process.env.WARM ?? 110_000)
const COUNT = Number(process.env.COUNT ?? 200_000)
const dist = process.env.LLM_BUDGET_DIST ?? fileURLToPath(new URL('../dist', import.meta.url))

if (process.argv[2] === 'child') {
  // The bench's subject (`ours()` in budget.bench.mjs), called WARM + n times in sequence.
  const n = Number(process.argv[3])
  const { BudgetManager, withBudget, memoryStore } = await import(pathToFileURL(`${dist}/index.js`).href)
  // A clock that moves 1 ms every 200 reads (a call reads it about twice): about what the system clock does at native
  // speed, but the same under valgrind whatever the load. With the system clock a run's work followed the machine's
  // load (valgrind's slowdown moved the ledger's 60 s sweeps and the 2 minutes a call id is remembered into the
  // counted window): two runs of one build counted 24,461 and 34,299 (ADR 0024, eleventh round).
  let reads = 0
  const clock = { now: () => T0 + Math.floor(reads++ / 200) }
  const manager = new BudgetManager({ store: memoryStore(), clock })
  await manager.setBudget('org:acme', { maxBudget: 1_000_000, duration: 'monthly' })
  await manager.setBudget('team:search', { maxBudget: 100_000, duration: 'monthly' })
  await manager.setBudget('user:alice', { maxBudget: 50_000, duration: 'daily' })
  await manager.setBudget('key:sk-1', { maxBudget: 10_000 })
  const context = { org: 'acme', team: 'search', user: 'alice', key: 'sk-1' }
  if (process.env.META === '1') context.metadata = { run: 'r1', step: 1 }
  const fn = withBudget(async () => 1, { manager, context, estimate: 0.002, cost: () => 0.0015 })
  for (let i = 0; i < WARM + n; i++) await fn()
  process.exit(0)
}

requireTools()

/** The instructions of a whole child process making WARM + `n` calls. */
function run(n) {
  return countInstructions((callgrind) => {
    const child = spawnSync(
      'valgrind',
      [
        ...callgrind,
        process.execPath,
        '--single-threaded',
        '--hash-seed=1',
        '--random-seed=1',
        '--min-semi-space-size=16',
        '--max-semi-space-size=16',
        fileURLToPath(import.meta.url),
        'child',
        String(n),
      ],
      { env: process.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    )
    if (child.status !== 0) throw new Error(child.stderr.slice(-2000))
  })
}

const withCalls = await run(COUNT)
const without = await run(0)
const meta = process.env.META === '1' ? ', context with metadata' : ''
console.log(`withBudget, 4 scopes, memoryStore${meta} (${dist}): instructions per call by callgrind\n`)
console.log('| warm-up calls | measured calls | instructions per call |')
console.log('|---:|---:|---:|')
console.log(
  `| ${WARM.toLocaleString('en-US')} | ${COUNT.toLocaleString('en-US')} | ${Math.round((withCalls - without) / COUNT).toLocaleString('en-US')} |`,
)
