// fileStore across real processes: a concurrent burst from 4 processes against one limit, a kill -9 loop of a
// writer, crashes at every compaction step, and a lock holder that dies or freezes while holding the lock.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import type { FileStore } from '../../src/stores/file.js'
import type { CompactionStep } from '../../src/stores/file/faults.js'
import { bundleStore, bundleStoreWithCodeCache, startWorker, type Child } from './file-helpers.js'

const root = mkdtempSync(join(tmpdir(), 'llm-budget-file-proc-'))
let modulePath = ''
let managerPath = ''
let writerModule = { module: '', cache: '' }
beforeAll(async () => {
  const [modules, cached] = await Promise.all([
    bundleStore(join(root, 'bundle'), { manager: 'budget/index.ts' }),
    bundleStoreWithCodeCache(join(root, 'writer-bundle')),
  ])
  modulePath = modules['file-store']!
  managerPath = modules.manager!
  writerModule = cached
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

const T0 = 1_800_000_000_000
const DAY = 86_400_000
const KEY = 'user:shared|total|usd'
let counter = 0
const freshDir = (): string => join(root, `d${++counter}`)

async function stateOf(store: FileStore): Promise<unknown> {
  return {
    balances: await store.balances({ keys: [KEY, 'other'], now: T0 + 10 }),
    records: await store.queryRecords({}),
    budgets: await store.listBudgets(),
    history: await store.getHistory('user:alice'),
  }
}

const strays = (dir: string): string[] =>
  readdirSync(dir).filter((name) => name.includes('.tmp') || name === 'lock.break')

/** One lane of the kill -9 loop: writers `indexes` (their index sets concurrency and durability) killed in turn. */
async function killLoop(
  indexes: number[],
): Promise<{ kills: number; acknowledged: number; tornTails: number; generation: number }> {
  const dir = freshDir()
  let acknowledged = 0
  let tornTails = 0
  let generation = 0
  // Writer k+1 starts (Node and the store bundle load) while writer k's kill is verified here; it touches the store
  // only after "go", once that verification has closed the store, so each writer still runs alone on the files.
  const spawnWriter = (i: number) =>
    startWorker({
      // The same store, from a CommonJS bundle with a code cache: 200 writers parse it once between them.
      FILE_STORE_MODULE: writerModule.module,
      FILE_STORE_CODE_CACHE: writerModule.cache,
      STORE_DIR: dir,
      MODE: 'writer',
      WORKER_ID: `w${i}`,
      CONCURRENCY: String(1 + (i % 16)),
      COMPACT_BYTES: '8192', // compactions every few commits, so every lane crosses several while being killed
      DURABILITY: i % 4 === 3 ? 'batch' : 'fsync', // batch mode too: a process crash loses nothing acknowledged
      WAIT_FOR_GO: '1',
    })
  let next: Child | null = indexes.length > 0 ? spawnWriter(indexes[0]!) : null
  try {
    for (let k = 0; k < indexes.length; k++) {
      const writer: Child = next!
      next = null
      await writer.waitFor((line) => line === 'loaded')
      writer.process.stdin!.write('go\n')
      await writer.waitFor((line) => line === 'ready')
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 60))
      writer.process.kill('SIGKILL')
      const end = await writer.exited
      expect(end.signal).toBe('SIGKILL')
      if (k + 1 < indexes.length) next = spawnWriter(indexes[k + 1]!)
      const acked = writer.lines.filter((line) => line.startsWith('ack ')).map((line) => line.slice(4))
      acknowledged += acked.length

      const store = fileStore({ path: dir, lockTimeoutMs: 20_000 })
      const report = await store.open() // the file always reopens
      expect(report.droppedRanges).toEqual([])
      expect(store.stats().tornTailsTruncated).toBeLessThanOrEqual(1)
      if (report.truncatedTailBytes > 0) tornTails++
      generation = report.generation
      const records = await store.queryRecords({})
      const ids = new Set(records.map((r) => r.callId))
      const missing = acked.filter((callId) => !ids.has(callId))
      expect(missing).toEqual([])
      expect(ids.size).toBe(records.length) // no commit counted twice
      const [balance] = await store.balances({ keys: [KEY], now: T0 })
      expect(balance!.spent).toBe(5 * records.length)
      expect(strays(dir)).toEqual([])
      await store.close()
    }
  } finally {
    // A lane that fails mid-loop leaves no writer waiting for its "go".
    if (next !== null) {
      next.process.kill('SIGKILL')
      await next.exited
    }
  }
  return { kills: indexes.length, acknowledged, tornTails, generation }
}

describe('fileStore across processes', () => {
  it('4 processes x 250 concurrent $0.01 reservations against $5: exactly 500 admitted, $5 spent, no holds', async () => {
    const dir = freshDir()
    const workers = Array.from({ length: 4 }, (_, i) =>
      startWorker({
        FILE_STORE_MODULE: modulePath,
        STORE_DIR: dir,
        MODE: 'burst',
        WORKER_ID: `p${i}`,
        COUNT: '250',
        AMOUNT: '10000000',
        LIMIT: '5000000000',
      }),
    )
    await Promise.all(workers.map((w) => w.waitFor((line) => line === 'ready')))
    for (const w of workers) w.process.stdin!.write('go\n')
    const outputs = await Promise.all(workers.map((w) => w.waitFor((line) => line.startsWith('{'))))
    const ends = await Promise.all(workers.map((w) => w.exited))
    expect(ends.map((e) => e.code)).toEqual([0, 0, 0, 0])
    const admitted = outputs.map((line) => (JSON.parse(line) as { admitted: number }).admitted)
    expect(admitted.reduce((a, b) => a + b, 0)).toBe(500)
    const store = fileStore({ path: dir })
    expect(await store.balances({ keys: [KEY], now: T0 + 2 })).toEqual([{ spent: 5_000_000_000, reserved: 0 }])
    expect((await store.queryRecords({})).length).toBe(500)
    await store.close()
  })

  it('the same through BudgetManager + withBudget: 4 processes x 250 calls of $0.01 against one $5 daily budget', async () => {
    const dir = freshDir()
    const start = (i: number) =>
      startWorker({
        FILE_STORE_MODULE: modulePath,
        FILE_MANAGER_MODULE: managerPath,
        STORE_DIR: dir,
        MODE: 'manager',
        COUNT: '250',
        SET_BUDGET: i === 0 ? '1' : '0',
      })
    const first = start(0)
    await first.waitFor((line) => line === 'ready') // the budget exists before the others start
    const workers = [first, start(1), start(2), start(3)]
    await Promise.all(workers.map((w) => w.waitFor((line) => line === 'ready')))
    for (const w of workers) w.process.stdin!.write('go\n')
    const outputs = (await Promise.all(workers.map((w) => w.waitFor((line) => line.startsWith('{'))))).map(
      (line) => JSON.parse(line) as { admitted: number; refused: number; codes: string[] },
    )
    expect((await Promise.all(workers.map((w) => w.exited))).map((e) => e.code)).toEqual([0, 0, 0, 0])
    expect(outputs.reduce((sum, o) => sum + o.admitted, 0)).toBe(500)
    expect(outputs.reduce((sum, o) => sum + o.refused, 0)).toBe(500)
    expect([...new Set(outputs.flatMap((o) => o.codes))]).toEqual(['BUDGET_EXCEEDED'])
    const { BudgetManager } = (await import(managerPath)) as typeof import('../../src/budget/index.js')
    const store = fileStore({ path: dir })
    const status = await new BudgetManager({ store }).getStatus('user:alice')
    expect(status.exact.spend).toBe('5.000000000')
    expect(status.exact.reserved).toBe('0.000000000')
    await store.close()
  })

  it('kill -9 loop: 200 writers killed at random moments; every acknowledged commit survives and the store always reopens', async () => {
    const iterations = Number(process.env.KILL_LOOP_ITERATIONS ?? 200)
    // Four lanes, each a store directory of its own with a writer killed iterations/4 times in turn: the same 200
    // kills (writer i of the whole loop is lane i % 4's), in a quarter of the wall time. Within a lane one writer
    // at a time touches the files, as before.
    const LANES = 4
    const lanes = await Promise.all(
      Array.from({ length: LANES }, (_, lane) =>
        killLoop(Array.from({ length: Math.ceil((iterations - lane) / LANES) }, (_, k) => lane + k * LANES)),
      ),
    )
    const acknowledged = lanes.reduce((sum, l) => sum + l.acknowledged, 0)
    const tornTails = lanes.reduce((sum, l) => sum + l.tornTails, 0)
    console.log(
      `kill loop: ${iterations} kills in ${LANES} lanes, ${acknowledged} acknowledged commits all present, ${tornTails} torn tails truncated, generations ${lanes.map((l) => l.generation).join('/')} reached`,
    )
    expect(lanes.map((l) => l.kills).reduce((a, b) => a + b, 0)).toBe(iterations)
    // As with one lane: commits were acknowledged and compactions happened while writers were being killed (on a
    // loaded machine a writer killed 0-60 ms after it starts writing gets few commits in, so this is over all lanes).
    expect(acknowledged).toBeGreaterThan(0)
    expect(lanes.reduce((sum, l) => sum + l.generation, 0)).toBeGreaterThan(0)
  }, 1_200_000) // a hang bound: the loop spawns 200 processes (600 s at a load average of 20 on 2 cores)

  const steps: CompactionStep[] = [
    'snapshot-written',
    'snapshot-synced',
    'snapshot-renamed',
    'directory-synced',
    'journal-written',
    'journal-sealed',
    'journal-renamed',
    'journal-directory-synced',
    'done',
  ]
  it.each(steps)(
    'a crash at compaction step %s leaves the state as before and no stray files after reopening',
    async (step) => {
      const template = freshDir()
      const seed = fileStore({ path: template })
      await seed.putBudget({
        scope: 'user:alice',
        definition: { maxBudget: 5 },
        now: T0,
        history: { scope: 'user:alice', action: 'create', at: T0, old: null, new: { maxBudget: 5 }, reason: null },
      })
      for (let i = 0; i < 40; i++) {
        const callId = `c${i}`
        await seed.reserve({
          callId,
          now: T0 + i,
          holdExpiresAt: T0 + DAY,
          entries: [
            { key: KEY, amount: 9, limit: 1_000, expiresAt: null },
            { key: 'other', amount: 1, limit: null, expiresAt: T0 + DAY },
          ],
        })
        if (i % 3 !== 0)
          await seed.commit({
            callId,
            now: T0 + i,
            entries: [{ key: KEY, amount: 8, expiresAt: null }],
            dedupeUntil: T0 + DAY,
            record: { callId, startedAt: T0, endedAt: T0 + i },
          })
      }
      const before = await stateOf(seed)
      await seed.close()
      // Compact once first, so the crash also exercises removing the previous generation's snapshot.
      const dir = freshDir()
      cpSync(template, dir, { recursive: true })
      const once = fileStore({ path: dir })
      await once.compact()
      await once.close()

      const child = startWorker({ FILE_STORE_MODULE: modulePath, STORE_DIR: dir, MODE: 'compact', CRASH_AT: step })
      const end = await child.exited
      expect(end.signal).toBe('SIGKILL')
      const store = fileStore({ path: dir })
      const report = await store.open()
      // From the seal on, the compaction is finished: by the next process to open the store if the compactor died.
      expect(report.generation).toBe(
        ['journal-sealed', 'journal-renamed', 'journal-directory-synced', 'done'].includes(step) ? 2 : 1,
      )
      expect(await stateOf(store)).toEqual(before)
      expect(strays(dir)).toEqual([])
      const snapshots = readdirSync(dir).filter((name) => name.startsWith('snapshot-'))
      expect(snapshots).toHaveLength(1)
      expect(snapshots[0]).toMatch(new RegExp(`^snapshot-${report.generation}-[0-9a-f]+\\.json$`))
      // and it keeps working
      await store.commit({
        callId: 'after',
        now: T0 + 100,
        entries: [{ key: KEY, amount: 1, expiresAt: null }],
        dedupeUntil: T0 + DAY,
      })
      await store.close()
      const again = fileStore({ path: dir })
      expect((await again.balances({ keys: [KEY], now: T0 + 100 }))[0]!.spent).toBe(
        (before as { balances: { spent: number }[] }).balances[0]!.spent + 1,
      )
      await again.close()
    },
  )

  it('a lock holder killed with kill -9 while holding the lock: another process takes the lock over and totals stay consistent', async () => {
    const dir = freshDir()
    const victim = startWorker({
      FILE_STORE_MODULE: modulePath,
      STORE_DIR: dir,
      MODE: 'committer',
      WORKER_ID: 'victim',
      COUNT: '100000',
      KILL_ON_LOCK: '40',
    })
    const peer = startWorker({
      FILE_STORE_MODULE: modulePath,
      STORE_DIR: dir,
      MODE: 'committer',
      WORKER_ID: 'peer',
      COUNT: '100',
      STALE_MS: '5000',
    })
    const victimEnd = await victim.exited
    expect(victimEnd.signal).toBe('SIGKILL')
    // The victim died holding the lock (the lock file names its dead pid). A process started now must take it over.
    const survivor = startWorker({
      FILE_STORE_MODULE: modulePath,
      STORE_DIR: dir,
      MODE: 'committer',
      WORKER_ID: 'survivor',
      COUNT: '50',
      STALE_MS: '5000',
    })
    type Done = { done: number; stats: { staleLocksBroken: number } }
    const [peerDone, survivorDone] = (
      await Promise.all([peer, survivor].map((w) => w.waitFor((line) => line.startsWith('{'))))
    ).map((line) => JSON.parse(line) as Done)
    expect((await Promise.all([peer.exited, survivor.exited])).map((e) => e.code)).toEqual([0, 0])
    expect([peerDone!.done, survivorDone!.done]).toEqual([100, 50])
    // exactly one of them found the dead holder's lock and broke it (the peer if it was still running)
    expect(peerDone!.stats.staleLocksBroken + survivorDone!.stats.staleLocksBroken).toBe(1)
    const acked = [...victim.lines, ...peer.lines, ...survivor.lines]
      .filter((line) => line.startsWith('ack '))
      .map((line) => line.slice(4))
    const store = fileStore({ path: dir })
    const records = await store.queryRecords({})
    const ids = new Set(records.map((r) => r.callId))
    expect(acked.filter((callId) => !ids.has(callId))).toEqual([])
    expect(records.length).toBe(ids.size)
    expect((await store.balances({ keys: [KEY], now: T0 }))[0]!.spent).toBe(10 * records.length)
    expect(readdirSync(dir)).not.toContain('lock')
    await store.close()
  })

  it('a frozen lock holder (alive, no heartbeat) loses the lock after staleLockMs', async () => {
    const dir = freshDir()
    const frozen = startWorker({
      FILE_STORE_MODULE: modulePath,
      STORE_DIR: dir,
      MODE: 'committer',
      WORKER_ID: 'frozen',
      COUNT: '100000',
      FREEZE_ON_LOCK: '11',
      // Its own staleLockMs: a breaker judges a holder by the longer of its own and the holder's setting.
      STALE_MS: '500',
    })
    try {
      await frozen.waitFor((line) => line === 'frozen')
      const other = startWorker({
        FILE_STORE_MODULE: modulePath,
        STORE_DIR: dir,
        MODE: 'committer',
        WORKER_ID: 'other',
        COUNT: '20',
        STALE_MS: '500',
      })
      const done = JSON.parse(await other.waitFor((line) => line.startsWith('{'))) as {
        done: number
        stats: { staleLocksBroken: number }
      }
      expect(done.stats.staleLocksBroken).toBe(1)
      expect((await other.exited).code).toBe(0)
    } finally {
      frozen.process.kill('SIGKILL')
      await frozen.exited
    }
    const acked = frozen.lines.filter((line) => line.startsWith('ack ')).length
    expect(acked).toBe(5) // 10 lock acquisitions = 5 reserve+commit pairs before the freeze
    const store = fileStore({ path: dir })
    const records = await store.queryRecords({})
    expect(records.length).toBe(25)
    expect((await store.balances({ keys: [KEY], now: T0 }))[0]!.spent).toBe(250)
    await store.close()
  })
})
