// Child process for the file store's multi-process and crash tests (test/stores/file-*.test.ts).
// Imports the store from the bundle named by FILE_STORE_MODULE (built from src by the test), so that a child starts in
// a few tens of milliseconds. Each mode prints one line per event on stdout (pipes are synchronous on Linux, so a
// line printed before a kill -9 reaches the parent).
//
//   MODE=writer   commit forever, CONCURRENCY calls in flight; prints "ack <callId>" after each acknowledged commit;
//                 with WAIT_FOR_GO=1, prints "loaded" and waits for "go" on stdin before it touches the store
//   MODE=burst    wait for "go" on stdin, reserve COUNT x AMOUNT against LIMIT at once, commit the admitted ones
//   MODE=compact  run one compaction and SIGKILL itself at the step CRASH_AT
//   MODE=committer  COUNT sequential reserve+commit pairs; with KILL_ON_LOCK=n, SIGKILL itself while holding the lock
//                   for the n-th time; with FREEZE_ON_LOCK=n, block (alive, no heartbeat) instead
//   MODE=manager  like burst, through BudgetManager + withBudget (FILE_MANAGER_MODULE)
// With STOP_AT=<fault point> (lockAcquired, beforeWrite, afterWrite, beforeSync) and STOP_ON=n, a process stops
// itself with a real SIGSTOP the n-th time it reaches that point (after printing "stopped"); the parent resumes
// it with SIGCONT. A writer prints "fail <callId> <code>" for an operation that failed and goes on.
//   MODE=code-cache  load FILE_STORE_MODULE (CommonJS) and write its V8 code cache to FILE_STORE_CODE_CACHE
// With FILE_STORE_CODE_CACHE set, FILE_STORE_MODULE is a CommonJS bundle compiled with that cache (see
// bundleStoreWithCodeCache in file-helpers.ts); the store's code is the same, only its parsing is skipped.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import Module, { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { Script } from 'node:vm'

function loadWithCodeCache(file, cacheFile) {
  const writing = process.env.MODE === 'code-cache'
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), {
    filename: file,
    ...(writing ? {} : { cachedData: readFileSync(cacheFile) }),
  })
  if (script.cachedDataRejected === true) throw new Error(`V8 rejected the code cache ${cacheFile}`)
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file))
  if (writing) {
    // After the module has run, so the cache holds the functions its evaluation compiled too.
    writeFileSync(`${cacheFile}.tmp`, script.createCachedData())
    renameSync(`${cacheFile}.tmp`, cacheFile)
    process.exit(0)
  }
  return module.exports
}

const mod = process.env.FILE_STORE_CODE_CACHE
  ? loadWithCodeCache(process.env.FILE_STORE_MODULE, process.env.FILE_STORE_CODE_CACHE)
  : await import(process.env.FILE_STORE_MODULE)
// The test bundle exports createFileStore (options plus fault hooks); the published entry only fileStore.
const openStore = (options, faults) =>
  mod.createFileStore ? mod.createFileStore(options, faults) : mod.fileStore(options)
const env = process.env
const dir = env.STORE_DIR
const mode = env.MODE
const id = env.WORKER_ID ?? String(process.pid)
const print = (line) => process.stdout.write(`${line}\n`)
const T0 = 1_800_000_000_000
const DAY = 86_400_000
const KEY = 'user:shared|total|usd'

const killSelf = () => process.kill(process.pid, 'SIGKILL')

const stopAt = env.STOP_AT
const stopOn = Number(env.STOP_ON ?? 1)
let stopCount = 0
const maybeStop = (point) => {
  if (point !== stopAt || ++stopCount !== stopOn) return
  print('stopped')
  process.kill(process.pid, 'SIGSTOP')
  print('resumed')
}

let lockCount = 0
const faults = {
  beforeWrite() {
    maybeStop('beforeWrite')
  },
  afterWrite() {
    maybeStop('afterWrite')
  },
  beforeSync() {
    maybeStop('beforeSync')
  },
  lockAcquired() {
    maybeStop('lockAcquired')
    lockCount++
    if (env.KILL_ON_LOCK && lockCount === Number(env.KILL_ON_LOCK)) killSelf()
    if (env.FREEZE_ON_LOCK && lockCount === Number(env.FREEZE_ON_LOCK)) {
      print('frozen')
      const until = Date.now() + 60_000
      while (Date.now() < until) {
        // hold the lock without heart-beating, like a stopped process
      }
    }
  },
  compactionStep(step) {
    if (env.CRASH_AT === step) killSelf()
  },
}

const store = openStore(
  {
    path: dir,
    durability: env.DURABILITY ?? 'fsync',
    compactBytes: env.COMPACT_BYTES ? Number(env.COMPACT_BYTES) : 64 * 1024 * 1024,
    staleLockMs: env.STALE_MS ? Number(env.STALE_MS) : 10_000,
    lockTimeoutMs: 20_000,
    ...(env.MAX_RECORDS ? { maxRecords: Number(env.MAX_RECORDS) } : {}),
  },
  faults,
)

function waitForGo() {
  return new Promise((resolve) => {
    process.stdin.setEncoding('utf8')
    process.stdin.on('data', (chunk) => {
      if (chunk.includes('go')) resolve()
    })
  })
}

if (mode === 'writer') {
  const concurrency = Number(env.CONCURRENCY ?? 8)
  let next = 0
  const one = async () => {
    for (;;) {
      const callId = `${id}-${next++}`
      const now = T0 + next
      try {
        await store.reserve({
          callId,
          now,
          holdExpiresAt: now + DAY,
          entries: [{ key: KEY, amount: 7, limit: null, expiresAt: null }],
        })
        await store.commit({
          callId,
          now,
          entries: [{ key: KEY, amount: 5, expiresAt: null }],
          dedupeUntil: now + DAY,
          record: { callId, startedAt: now, endedAt: now, costNanoUsd: 5 },
        })
      } catch (error) {
        print(`fail ${callId} ${error?.code ?? error}`)
        if (env.STOP_AT === undefined) throw error
        continue
      }
      print(`ack ${callId}`)
    }
  }
  if (env.WAIT_FOR_GO === '1') {
    print('loaded')
    await waitForGo()
  }
  print('ready')
  await Promise.all(Array.from({ length: concurrency }, one))
} else if (mode === 'burst') {
  const count = Number(env.COUNT)
  const amount = Number(env.AMOUNT)
  const limit = Number(env.LIMIT)
  await store.open()
  print('ready')
  await waitForGo()
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      store.reserve({
        callId: `${id}-${i}`,
        now: T0,
        holdExpiresAt: T0 + DAY,
        entries: [{ key: KEY, amount, limit, expiresAt: null }],
      }),
    ),
  )
  const admitted = results.flatMap((r, i) => (r.ok ? [i] : []))
  await Promise.all(
    admitted.map((i) =>
      store.commit({
        callId: `${id}-${i}`,
        now: T0 + 1,
        entries: [{ key: KEY, amount, expiresAt: null }],
        dedupeUntil: T0 + DAY,
        record: { callId: `${id}-${i}`, startedAt: T0, endedAt: T0 + 1, costNanoUsd: amount },
      }),
    ),
  )
  print(JSON.stringify({ admitted: admitted.length, stats: store.stats() }))
  await store.close()
  process.exit(0)
} else if (mode === 'compact') {
  await store.open()
  await store.compact()
  print('compacted')
  await store.close()
} else if (mode === 'committer') {
  const count = Number(env.COUNT)
  for (let i = 0; i < count; i++) {
    const callId = `${id}-${i}`
    const now = T0 + i
    await store.reserve({
      callId,
      now,
      holdExpiresAt: now + DAY,
      entries: [{ key: KEY, amount: 10, limit: null, expiresAt: null }],
    })
    await store.commit({
      callId,
      now,
      entries: [{ key: KEY, amount: 10, expiresAt: null }],
      dedupeUntil: now + DAY,
      record: { callId, startedAt: now, endedAt: now },
    })
    print(`ack ${callId}`)
  }
  print(JSON.stringify({ done: count, stats: store.stats() }))
  await store.close()
} else if (mode === 'manager') {
  const { BudgetManager, withBudget } = await import(env.FILE_MANAGER_MODULE)
  const manager = new BudgetManager({ store })
  const count = Number(env.COUNT)
  if (env.SET_BUDGET === '1') await manager.setBudget('user:alice', { maxBudget: 5, duration: 'daily' })
  print('ready')
  await waitForGo()
  const call = withBudget(async () => 'ok', { manager, context: { user: 'alice' }, estimate: 0.01, cost: () => 0.01 })
  const results = await Promise.allSettled(Array.from({ length: count }, () => call()))
  const admitted = results.filter((r) => r.status === 'fulfilled').length
  const refusals = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.code)
  print(JSON.stringify({ admitted, refused: refusals.length, codes: [...new Set(refusals)] }))
  await store.close()
  process.exit(0)
} else {
  throw new Error(`unknown MODE ${mode}`)
}
