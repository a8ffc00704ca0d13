// redisStore on loopback: Redis round trips per admitted call (from Redis's own INFO commandstats), calls per
// second from one process with 100 calls in flight, p50/p99 latency of reserve + commit, Redis CPU per call
// (INFO cpu: the server process's own CPU time, unaffected by client noise), the scripts' own time per call
// (INFO commandstats), the client process's CPU per call, and Redis memory per active scope. Starts its own
// redis-server on a free loopback port in a temporary directory.
//
// Baselines measured in the same run, on the same server: a trivial EVAL (`return redis.call('INCRBY', KEYS[1],
// ARGV[1])`) sent the same way by each client (100 in flight), and `redis-benchmark` sending that EVAL. The ratio
// "Redis CPU per admitted 4-key call / Redis CPU per trivial EVAL" is the store's cost in units of the cheapest
// script Redis can run (goal: at most 12x; an admitted call is at least 2 scripts, so 2x is the floor).
//
// Usage: npm run build && node bench/redis.bench.mjs   (LLM_BUDGET_REDIS=path/to/redis.js to use another build,
// CALLS=n calls per row, ONLY=ioredis:4 one row with the baselines)
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { admittedCall, callKeys, freePort, redisServerArgs, redisStore } from './redis-call.mjs'

const CALLS = Number(process.env.CALLS ?? 40_000)
const IN_FLIGHT = 100
const SCOPES = 10_000
// ONLY=ioredis:4 runs that row alone (with the baselines), for quick comparisons while working on the scripts
const ONLY = process.env.ONLY

// ------------------------------------------------------------------------------------------------ server
if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) {
  console.error('redis-server is not installed (apt-get install -y redis-server)')
  process.exit(1)
}
const port = await freePort()
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-bench-redis-'))
const server = spawn('redis-server', redisServerArgs(port, dir), { stdio: 'ignore' })
const admin = new Redis(port, '127.0.0.1', { retryStrategy: (n) => (n > 100 ? null : 50) })
admin.on('error', () => {}) // refused while the server is still starting; retryStrategy reconnects
await admin.ping()
const version = (await admin.info('server')).match(/redis_version:(\S+)/)[1]

async function commandStats() {
  const text = await admin.info('commandstats')
  const calls = {}
  for (const m of text.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
    calls[m[1]] = Number(m[2])
    calls[`${m[1]}.usec`] = Number(m[3])
  }
  return calls
}
/**
 * The usec `INFO commandstats` counted between two samples for the commands the client sent: the scripts
 * (EVALSHA/EVAL/FCALL, whole-script time, which includes the commands they run inside) and plain commands. Commands
 * run inside a script are not added again.
 */
const SENT = ['evalsha', 'eval', 'fcall', 'script|load']
function commandUsec(before, after) {
  let usec = 0
  for (const name of SENT) usec += (after[`${name}.usec`] ?? 0) - (before[`${name}.usec`] ?? 0)
  return usec
}
async function serverCpuSeconds() {
  const text = await admin.info('cpu')
  return Number(text.match(/used_cpu_user:([\d.]+)/)[1]) + Number(text.match(/used_cpu_sys:([\d.]+)/)[1])
}
async function usedMemory() {
  return Number((await admin.info('memory')).match(/used_memory:(\d+)/)[1])
}

// ------------------------------------------------------------------------------------------------ baselines
const TRIVIAL = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

/** A trivial EVALSHA sent by `send` (one client's way of sending a command), 100 in flight. */
async function trivialEval(label, send) {
  const sha = await admin.script('LOAD', TRIVIAL)
  const count = CALLS * 2
  for (let i = 0; i < 1000; i++) await send(['EVALSHA', sha, '1', `bench-trivial-${label}`, '1'])
  const statsBefore = await commandStats()
  const cpuBefore = await serverCpuSeconds()
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        next++
        await send(['EVALSHA', sha, '1', `bench-trivial-${label}`, '1'])
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const cpuAfter = await serverCpuSeconds()
  const statsAfter = await commandStats()
  return {
    label,
    callsPerSecond: Math.round(count / seconds),
    redisCpuPerCall: ((cpuAfter - cpuBefore) * 1e6) / count,
    statsUsecPerCall: commandUsec(statsBefore, statsAfter) / count,
  }
}

/** `redis-benchmark` sending the trivial EVAL: 100 connections, then 1 connection with 100 pipelined. */
async function redisBenchmark(args) {
  const statsBefore = await commandStats()
  const cpuBefore = await serverCpuSeconds()
  const n = CALLS * 4
  const result = spawnSync(
    'redis-benchmark',
    ['-h', '127.0.0.1', '-p', String(port), '-n', String(n), ...args, '-q', 'EVAL', TRIVIAL, '1', 'bench-rb', '1'],
    { encoding: 'utf8' },
  )
  const cpuAfter = await serverCpuSeconds()
  const statsAfter = await commandStats()
  const rps = Number(/([\d.]+) requests per second/.exec(result.stdout)?.[1] ?? NaN)
  return {
    callsPerSecond: Math.round(rps),
    redisCpuPerCall: ((cpuAfter - cpuBefore) * 1e6) / n,
    statsUsecPerCall: commandUsec(statsBefore, statsAfter) / n,
  }
}

// ------------------------------------------------------------------------------------------------ runs
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

async function throughput(label, client, keysPerCall) {
  const prefix = `bench-${label}-${keysPerCall}`
  const store = redisStore({ client, prefix, time: 'server' })
  await store.syncClock()
  const keys = callKeys(keysPerCall)
  const oneCall = (i) => admittedCall(store, keys, `${prefix}-${i}`)
  // warm-up: loads the scripts
  for (let i = 0; i < 200; i++) await oneCall(`w${i}`)
  const before = await commandStats()
  const cpuBefore = await serverCpuSeconds()
  const clientBefore = process.cpuUsage()
  const latencies = new Float64Array(CALLS)
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < CALLS) {
        const i = next++
        const t = performance.now()
        await oneCall(i)
        latencies[i] = performance.now() - t
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const clientCpu = process.cpuUsage(clientBefore)
  const cpuAfter = await serverCpuSeconds()
  const after = await commandStats()
  const delta = (name) => (after[name] ?? 0) - (before[name] ?? 0)
  // Commands the client sent: scripts (EVALSHA/EVAL), script loads and plain commands. Commands run inside
  // a script (HGET, HINCRBY, TIME, ...) are counted by Redis too but are not round trips; each script calls
  // TIME once, so TIME calls beyond the script count were sent by the client.
  const scripts = delta('evalsha') + delta('eval')
  const roundTrips = scripts + delta('script|load') + Math.max(0, delta('time') - scripts)
  const sorted = Array.from(latencies).sort((a, b) => a - b)
  // every command Redis ran for the row (scripts and the commands inside them), and their commandstats usec
  const commands = Object.keys(after)
    .filter((name) => !name.endsWith('.usec') && name !== 'info')
    .reduce((sum, name) => sum + delta(name), 0)
  // The profile: every command Redis ran during the row (inside the scripts too), per admitted call.
  const profile = Object.keys(after)
    .filter((name) => !name.endsWith('.usec') && name !== 'info' && delta(name) > 0)
    .map((name) => ({ name, calls: delta(name) / CALLS, usec: delta(`${name}.usec`) / CALLS }))
    .sort((a, b) => b.usec - a.usec)
  return {
    profile,
    label,
    keysPerCall,
    callsPerSecond: Math.round(CALLS / seconds),
    roundTripsPerCall: roundTrips / CALLS,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    scriptUsecPerCall: (delta('evalsha.usec') + delta('eval.usec')) / CALLS,
    commandsPerCall: commands / CALLS,
    statsUsecPerCall: commandUsec(before, after) / CALLS,
    redisCpuPerCall: ((cpuAfter - cpuBefore) * 1e6) / CALLS,
    clientCpuPerCall: (clientCpu.user + clientCpu.system) / CALLS,
  }
}

async function memoryPerScope(client) {
  const store = redisStore({ client, prefix: 'bench-memory', time: 'server' })
  await store.syncClock()
  const day = Date.now() + 86_400_000
  const run = async (from, commitOnly, withRecord) => {
    for (let b = 0; b < SCOPES; b += 500) {
      await Promise.all(
        Array.from({ length: 500 }, async (_, j) => {
          const i = from + b + j
          const key = `user:user-${i}|d:2026-11-29|usd`
          const callId = `m-${i}`
          const now = store.clock.now()
          if (!commitOnly)
            await store.reserve({
              callId,
              now,
              holdExpiresAt: now + 600_000,
              entries: [{ key, amount: 1000, limit: 5_000_000_000, expiresAt: day }],
            })
          await store.commit({
            callId,
            now,
            entries: [{ key, amount: 900, expiresAt: day }],
            dedupeUntil: now + 3_600_000,
            ...(withRecord
              ? {
                  record: {
                    callId,
                    startedAt: now,
                    endedAt: now + 1,
                    model: 'gpt-4o',
                    costNanoUsd: 900,
                    user: `user-${i}`,
                  },
                }
              : {}),
          })
        }),
      )
    }
  }
  await admin.flushall()
  const m0 = await usedMemory()
  await run(0, false, true)
  const m1 = await usedMemory()
  // The call-id records expire with `dedupeUntil`; what stays for the window is the scope's hash.
  const callKeys = []
  let cursor = '0'
  do {
    const [c, keys] = await admin.scan(cursor, 'MATCH', '{bench-memory}:c:*', 'COUNT', 1000)
    cursor = c
    callKeys.push(...keys)
  } while (cursor !== '0')
  for (let i = 0; i < callKeys.length; i += 1000) await admin.del(...callKeys.slice(i, i + 1000))
  await admin.del('{bench-memory}:r', '{bench-memory}:rm')
  const m2 = await usedMemory()
  return { perCall: (m1 - m0) / SCOPES, perScope: (m2 - m0) / SCOPES }
}

const io = new Redis(port, '127.0.0.1')
const node = createClient({ url: `redis://127.0.0.1:${port}` })
await node.connect()
// the trivial EVAL through each client the way the store sends its scripts: ioredis in one pipeline per tick
// (the store's batcher: auto-pipelining), node-redis as it is (it writes the commands of one tick together)
const ioAuto = new Redis(port, '127.0.0.1', { enableAutoPipelining: true })
const sendWith = {
  ioredis: (args) => ioAuto.call(args[0], ...args.slice(1)),
  'node-redis': (args) => node.sendCommand(args),
}
const rows = []
const baselines = {}
for (const [label, client] of [
  ['ioredis', io],
  ['node-redis', node],
]) {
  baselines[label] = await trivialEval(label, sendWith[label])
  for (const keysPerCall of [1, 4])
    if (!ONLY || ONLY === `${label}:${keysPerCall}`) rows.push(await throughput(label, client, keysPerCall))
}
const rbConnections = await redisBenchmark(['-c', '100'])
const rbPipelined = await redisBenchmark(['-c', '1', '-P', '100'])
ioAuto.disconnect()
const memory = ONLY ? null : await memoryPerScope(io)

console.log(
  `redisStore on loopback, Redis ${version}, Node ${process.version}, ${CALLS} calls (reserve + commit with a spend record) per row, ${IN_FLIGHT} in flight, one process\n`,
)
console.log(
  '| client | keys per call | calls/s | round trips per call | p50 ms | p99 ms | Redis CPU per call (us) | script time per call (us) | client CPU per call (us) |',
)
console.log('|---|---|---|---|---|---|---|---|---|')
for (const r of rows) {
  console.log(
    `| ${r.label} | ${r.keysPerCall} | ${r.callsPerSecond.toLocaleString('en-US')} | ${r.roundTripsPerCall.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.redisCpuPerCall.toFixed(0)} | ${r.scriptUsecPerCall.toFixed(0)} | ${r.clientCpuPerCall.toFixed(0)} |`,
  )
}
console.log('\n| baseline: trivial EVAL (INCRBY) | calls/s | Redis CPU per EVAL (us) | commandstats usec per EVAL |')
console.log('|---|---|---|---|')
for (const label of ['ioredis', 'node-redis']) {
  const b = baselines[label]
  console.log(
    `| ${label}, ${IN_FLIGHT} in flight | ${b.callsPerSecond.toLocaleString('en-US')} | ${b.redisCpuPerCall.toFixed(2)} | ${b.statsUsecPerCall.toFixed(2)} |`,
  )
}
console.log(
  `| redis-benchmark, 100 connections | ${rbConnections.callsPerSecond.toLocaleString('en-US')} | ${rbConnections.redisCpuPerCall.toFixed(2)} | ${rbConnections.statsUsecPerCall.toFixed(2)} |`,
)
console.log(
  `| redis-benchmark, 1 connection, 100 pipelined | ${rbPipelined.callsPerSecond.toLocaleString('en-US')} | ${rbPipelined.redisCpuPerCall.toFixed(2)} | ${rbPipelined.statsUsecPerCall.toFixed(2)} |`,
)
// The closing table: what issue 17 asks for, each figure next to its baseline from this run.
console.log(
  '\n| client (4 keys, with a record) | admitted calls/s | trivial EVALs/s, same client | redis-benchmark EVALs/s (100 conns / 1 conn, 100 pipelined) | round trips per call | commands per call | commandstats usec per call / per trivial EVAL | ratio, commandstats (goal <= 12x) | Redis CPU (INFO cpu) us per call / per trivial EVAL | ratio, INFO cpu |',
)
console.log('|---|---|---|---|---|---|---|---|---|---|')
for (const r of rows.filter((row) => row.keysPerCall === 4)) {
  const b = baselines[r.label]
  console.log(
    `| ${r.label} | ${r.callsPerSecond.toLocaleString('en-US')} | ${b.callsPerSecond.toLocaleString('en-US')} | ${rbConnections.callsPerSecond.toLocaleString('en-US')} / ${rbPipelined.callsPerSecond.toLocaleString('en-US')} | ${r.roundTripsPerCall.toFixed(2)} | ${r.commandsPerCall.toFixed(1)} | ${r.statsUsecPerCall.toFixed(1)} / ${b.statsUsecPerCall.toFixed(2)} | ${(r.statsUsecPerCall / b.statsUsecPerCall).toFixed(1)}x | ${r.redisCpuPerCall.toFixed(1)} / ${b.redisCpuPerCall.toFixed(2)} | ${(r.redisCpuPerCall / b.redisCpuPerCall).toFixed(1)}x |`,
  )
}
const profiled = rows.find((row) => row.keysPerCall === 4) ?? rows[0]
console.log(
  `\n| command (${profiled.label}, 4 keys, with a record) | calls per admitted call | usec per admitted call |`,
)
console.log('|---|---|---|')
for (const p of profiled.profile) console.log(`| ${p.name} | ${p.calls.toFixed(2)} | ${p.usec.toFixed(2)} |`)
console.log(
  '\ncommandstats usec: the usec INFO commandstats counts for the commands the client sent (EVALSHA/EVAL, each with the commands it ran inside), per call; wall time, inflated when the machine is loaded.',
)
console.log('\nRedis CPU: INFO cpu of the server process (what bounds one prefix: 1e6 / it = calls/s per Redis core).')
console.log(
  'Script time: INFO commandstats of EVALSHA/EVAL (wall time inside the scripts, inflated when the machine is loaded).',
)
if (memory !== null) {
  console.log('\n| Redis memory | bytes |')
  console.log('|---|---|')
  console.log(`| per active scope (its window's ledger hash) | ${Math.round(memory.perScope)} |`)
  console.log(`| per call while remembered (scope + call-id record + stream record) | ${Math.round(memory.perCall)} |`)
}

io.disconnect()
await node.close()
admin.disconnect()
server.kill('SIGTERM')
await new Promise((resolve) => server.once('exit', resolve))
rmSync(dir, { recursive: true, force: true })
