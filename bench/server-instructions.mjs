// The instructions the budget server's fetch handler runs per batched store operation, counted by valgrind's
// callgrind (ADR 0064's method): `node --single-threaded` (the collector and the compiler on the main thread, so
// they count) with `--predictable-gc-schedule` (heap growth and the memory reducer fixed, not timed: without it
// identical runs differed by up to 25% on a loaded machine, valgrind's slowdown moving the collector's timing), the handler serving batches of 100 reserves then their 100 commits (3 scopes, a spend record, every
// operation keyed, one tenant, a memoryStore), run twice: WARM operations then COUNT more, and WARM then none; the
// difference over COUNT is the figure. Every batch body is built before the warm-up in both runs, so building them
// is not counted. Wall and CPU time on this shared machine cannot see 3%.
// Not run by `npm run bench` (it needs valgrind and takes a few minutes).
//
// HEAP=fixed replaces `--predictable-gc-schedule` with an old space and semi-spaces sized so that no mark-compact
// runs in either run (ADR 0064, sixth pass): whether one landed in the counted window moved single counts of one build
// by up to 50% (76.6k and 117.2k) at load 5-8; scavenges still count.
//
// Usage: npm run build && node bench/server-instructions.mjs
//        (FORMAT=v1|v2|both, the batch wire format; LLM_BUDGET_DIST=path to another build; RUNS=n pairs; HEAP=fixed)
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { countInstructions, requireTools } from './callgrind.mjs'

const WARM = 8_000
const COUNT = 12_000
const B = 100
const RUNS = Number(process.env.RUNS ?? 1)
const dist = resolve(process.env.LLM_BUDGET_DIST ?? resolve(import.meta.dirname, '..', 'dist'))

if (process.argv[2] === 'child') {
  const [, , , format, counted] = process.argv
  const { memoryStore } = await import(pathToFileURL(`${dist}/index.js`).href)
  const { createBudgetHandler } = await import(pathToFileURL(`${dist}/server.js`).href)
  const TOKEN = 'bench-token-0123456789abcdef'
  const T0 = 1_800_000_000_000
  const DAY = 86_400_000
  const handler = createBudgetHandler({
    store: memoryStore({ maxRecords: 10000 }),
    auth: { tokens: { [TOKEN]: 'bench' } },
  })
  const num = (n) => (n === null ? 'null' : String(n))
  // The bodies httpStore sends for bench/http.bench.mjs's calls, in either wire format.
  const bodies = []
  for (let from = 0; from < WARM + COUNT; from += B) {
    for (const kind of ['reserve', 'commit']) {
      const ops = []
      for (let i = from; i < from + B; i++) {
        const callId = `ip-${i}`
        const key = `k-${kind}-${i}`
        const keys = [`user:u${i % 1000}|d|usd`, `team:t${i % 50}|d|usd`, `org:o${i % 5}|d|usd`]
        const record = { callId, startedAt: T0, endedAt: T0 + 1, model: 'gpt-4o-mini', costNanoUsd: 9_000_000 }
        if (format === 'v1') {
          const body =
            kind === 'reserve'
              ? {
                  callId,
                  now: T0,
                  holdExpiresAt: T0 + 60_000,
                  entries: keys.map((k) => ({ key: k, amount: 10_000_000, limit: 1e15, expiresAt: null })),
                }
              : {
                  callId,
                  now: T0 + 1,
                  entries: keys.map((k) => ({ key: k, amount: 9_000_000, expiresAt: null })),
                  dedupeUntil: T0 + DAY,
                  record,
                }
          ops.push(`{"path":"/v1/${kind}","key":${JSON.stringify(key)},"body":${JSON.stringify(body)}}`)
        } else if (kind === 'reserve') {
          ops.push(
            `["r",${JSON.stringify(key)},${JSON.stringify(callId)},${T0},${T0 + 60_000}${keys.map((k) => `,${JSON.stringify(k)},10000000,${num(1e15)},null`).join('')}]`,
          )
        } else {
          ops.push(
            `["c",${JSON.stringify(key)},${JSON.stringify(callId)},${T0 + 1},${T0 + DAY},${JSON.stringify(record)}${keys.map((k) => `,${JSON.stringify(k)},9000000,null`).join('')}]`,
          )
        }
      }
      bodies.push(format === 'v1' ? `{"operations":[${ops.join(',')}]}` : `{"ops":[${ops.join(',')}]}`)
    }
  }
  const path = format === 'v1' ? '/v1/batch' : '/v2/batch'
  const serve = async (k) => {
    const response = await handler(
      new Request(`http://bench${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: bodies[k],
      }),
    )
    const text = await response.text()
    if (response.status !== 200 || text.includes('"error"'))
      throw new Error(`batch answered ${response.status}: ${text.slice(0, 300)}`)
  }
  const batches = (WARM + Number(counted)) / B
  for (let k = 0; k < batches; k++) await serve(k)
  process.exit(0)
}

requireTools()

/** Total instructions of one child run under callgrind. */
function instructions(format, counted) {
  return countInstructions((callgrind) =>
    execFileSync(
      'valgrind',
      [
        ...callgrind,
        process.execPath,
        '--single-threaded',
        ...(process.env.HEAP === 'fixed'
          ? ['--initial-old-space-size=1024', '--min-semi-space-size=16', '--max-semi-space-size=16']
          : ['--predictable-gc-schedule']),
        '--hash-seed=1',
        '--random-seed=1',
        import.meta.filename,
        'child',
        format,
        String(counted),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LLM_BUDGET_DIST: dist } },
    ),
  )
}

const formats = (process.env.FORMAT ?? 'both') === 'both' ? ['v1', 'v2'] : [process.env.FORMAT]
console.log(`budget server fetch handler, batches of ${B} (reserve then commit, 3 scopes, keyed), ${dist}\n`)
console.log('| format | instructions per batched operation (callgrind, N=12,000 minus N=0 after 8,000) |')
console.log('|---|---|')
for (let run = 0; run < RUNS; run++) {
  for (const format of formats) {
    const perOp = ((await instructions(format, COUNT)) - (await instructions(format, 0))) / COUNT
    console.log(`| ${format} | ${Math.round(perOp).toLocaleString('en-US')} |`)
  }
}
