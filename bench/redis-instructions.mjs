// The instructions Redis runs per admitted call of redisStore (4 keys, reserve + commit with a spend record, 100 in
// flight), and per trivial EVAL (`return redis.call('INCRBY', KEYS[1], ARGV[1])`, 100 in flight), counted by
// valgrind's callgrind on a private redis-server. Unlike the CPU time of bench/redis.bench.mjs the count does not
// move with the load of the machine (it repeats to within about 0.1%), so a change of a few percent is visible.
// Not run by `npm run bench` (it needs valgrind and takes about a minute per client).
//
// Usage: npm run build && node bench/redis-instructions.mjs
//        (LLM_BUDGET_REDIS=path/to/redis.js to use another build, CALLS=n admitted calls, ONLY=ioredis|node-redis)
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { admittedCall, callKeys, freePort, redisServerArgs, redisStore } from './redis-call.mjs'
import { callgrindTotal, requireTools } from './callgrind.mjs'

const CALLS = Number(process.env.CALLS ?? 2000)
const IN_FLIGHT = 100
const TRIVIAL = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

requireTools(['valgrind', 'callgrind_control', 'redis-server'])

/** Runs `CALLS` admitted calls through a client of kind `label` on a redis-server under callgrind. */
async function measure(label) {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'llm-budget-bench-instructions-'))
  const server = spawn(
    'valgrind',
    ['--tool=callgrind', `--callgrind-out-file=${dir}/out`, 'redis-server', ...redisServerArgs(port, dir)],
    { stdio: 'ignore' },
  )
  const admin = new Redis(port, '127.0.0.1', {
    retryStrategy: (n) => (n > 600 ? null : 100),
    maxRetriesPerRequest: null,
  })
  admin.on('error', () => {}) // refused while valgrind starts the server
  await admin.ping()
  // the instructions counted since the previous dump (a dump starts the count again)
  const counted = () => {
    execFileSync('callgrind_control', ['-d', String(server.pid)], { stdio: 'ignore' })
    const dumps = readdirSync(dir)
      .filter((f) => f.startsWith('out.'))
      .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()))
    return callgrindTotal(join(dir, dumps.at(-1)))
  }
  let client
  if (label === 'ioredis') client = new Redis(port, '127.0.0.1')
  else {
    client = createClient({ url: `redis://127.0.0.1:${port}` })
    await client.connect()
  }
  const store = redisStore({ client, prefix: 'instructions', time: 'server', timeoutMs: 120_000 })
  await store.syncClock()
  const keys = callKeys()
  const oneCall = (callId) => admittedCall(store, keys, callId)
  const load = async (prefix, count) => {
    let next = 0
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < count) await oneCall(`${prefix}-${next++}`)
      }),
    )
  }
  await load('warm', 300) // loads the scripts, creates the keys, the day's rollup row; hot keys reach their size
  const scripts = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0)
  const scriptsBefore = await scripts()
  counted()
  await load('call', CALLS)
  const perCall = counted() / CALLS
  const scriptsPerCall = ((await scripts()) - scriptsBefore) / CALLS
  // the trivial EVAL: ioredis pipelines the commands of one tick (as the store's batches go), 100 in flight
  const sha = await admin.script('LOAD', TRIVIAL)
  const auto = new Redis(port, '127.0.0.1', { enableAutoPipelining: true })
  for (let i = 0; i < 200; i++) await auto.evalsha(sha, 1, 'trivial', '1')
  counted()
  let sent = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (sent++ < CALLS) await auto.evalsha(sha, 1, 'trivial', '1')
    }),
  )
  const perTrivial = counted() / CALLS
  auto.disconnect()
  await store.close()
  if (label === 'ioredis') client.disconnect()
  else await client.close()
  admin.disconnect()
  server.kill('SIGTERM')
  await new Promise((resolve) => server.once('exit', resolve))
  rmSync(dir, { recursive: true, force: true })
  return { label, perCall, perTrivial, scriptsPerCall }
}

const rows = []
for (const label of ['ioredis', 'node-redis'])
  if (!process.env.ONLY || process.env.ONLY === label) rows.push(await measure(label))
console.log(
  `redisStore, instructions Redis runs (callgrind), ${CALLS} admitted 4-key calls with a record, ${IN_FLIGHT} in flight\n`,
)
console.log('| client | instructions per admitted call | per trivial EVAL | ratio (goal <= 12x) | scripts per call |')
console.log('|---|---:|---:|---:|---:|')
for (const r of rows) {
  console.log(
    `| ${r.label} | ${Math.round(r.perCall).toLocaleString('en-US')} | ${Math.round(r.perTrivial).toLocaleString('en-US')} | ${(r.perCall / r.perTrivial).toFixed(1)}x | ${r.scriptsPerCall.toFixed(3)} |`,
  )
}
