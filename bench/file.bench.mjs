// fileStore benchmark: committed calls per second (reserve + commit pairs) with group commit and with one call at a
// time, p50/p99 latency per call, and the open (recovery) time of a store that received 1,000,000 operations: with
// compaction switched off (the whole journal is replayed: the baseline) and with the default automatic compaction
// (what a store opens in; the goal is under 1 s), measured in the same run.
//
//   npm run build && node bench/file.bench.mjs
//   FILE_STORE_MODULE=/path/to/bundle.mjs node bench/file.bench.mjs   (another build of the store)
//   FILE_BENCH_QUICK=1 ...                                              (smaller runs)
//   FILE_BENCH_ONLY=recovery ...                                        (only the open-time table)
//
// Prints a markdown table. Every "committed call" is acknowledged only after its journal frame is fdatasync'ed
// (durability 'fsync'), except in the rows marked batch.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const modulePath = process.env.FILE_STORE_MODULE
  ? pathToFileURL(process.env.FILE_STORE_MODULE).href
  : new URL('../dist/file.js', import.meta.url).href
const { fileStore } = await import(modulePath)
const { memoryStore } = await import(
  process.env.MEMORY_STORE_MODULE
    ? pathToFileURL(process.env.MEMORY_STORE_MODULE).href
    : new URL('../dist/index.js', import.meta.url).href
)
const quick = process.env.FILE_BENCH_QUICK === '1'
const root = mkdtempSync(join(tmpdir(), 'llm-budget-file-bench-'))
const T0 = 1_800_000_000_000
const DAY = 86_400_000
const KEYS = ['org:acme|m|usd', 'team:search|m|usd', 'user:alice|d|usd', 'key:k1|m|usd']

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function oneCall(store, callId, now) {
  const r = await store.reserve({
    callId,
    now,
    holdExpiresAt: now + 600_000,
    entries: KEYS.map((key) => ({ key, amount: 10_000_000, limit: null, expiresAt: now + DAY })),
  })
  if (!r.ok) throw new Error('refused')
  await store.commit({
    callId,
    now,
    entries: KEYS.map((key) => ({ key, amount: 9_000_000, expiresAt: now + DAY })),
    dedupeUntil: now + DAY,
    record: {
      callId,
      startedAt: now,
      endedAt: now,
      model: 'gpt-4o',
      provider: 'openai',
      costNanoUsd: 9_000_000,
      status: 'success',
      user: 'alice',
    },
  })
}

/** `inFlight` loops each doing reserve+commit pairs until `total` calls are committed. */
async function run(name, options, inFlight, total) {
  const path = join(root, name.replace(/\W+/g, '-'))
  const store = options === 'memory' ? memoryStore() : fileStore({ path, ...options })
  await store.open?.()
  const latencies = new Float64Array(total)
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (;;) {
        const i = next++
        if (i >= total) return
        const t = process.hrtime.bigint()
        await oneCall(store, `${name}-${i}`, T0 + i)
        latencies[i] = Number(process.hrtime.bigint() - t) / 1e6
      }
    }),
  )
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const stats = store.stats?.() ?? { framesWritten: 0, operationsWritten: 0 }
  await store.close()
  const sorted = Array.from(latencies).sort((a, b) => a - b)
  return {
    name,
    callsPerSecond: Math.round(total / seconds),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    framesPerSecond: Math.round(stats.framesWritten / seconds),
    opsPerFrame: stats.framesWritten === 0 ? '-' : (stats.operationsWritten / stats.framesWritten).toFixed(1),
  }
}

/** Writes `operations` commits (with spend records) into a fresh store, 2,000 in flight, in batch durability. */
async function fill(path, operations, options) {
  const writer = fileStore({ path, durability: 'batch', ...options })
  const batch = 2000
  for (let i = 0; i < operations; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, operations - i) }, (_, j) => {
        const callId = `rec-${i + j}`
        const now = T0 + i + j
        return writer.commit({
          callId,
          now,
          entries: [{ key: KEYS[(i + j) % 4], amount: 1_000, expiresAt: null }],
          dedupeUntil: now + 60_000,
          record: { callId, startedAt: now, endedAt: now, model: 'gpt-4o', costNanoUsd: 1_000 },
        })
      }),
    )
  }
  const stats = writer.stats()
  await writer.close()
  return stats
}

const snapshotSize = (path) =>
  readdirSync(path)
    .filter((name) => /^snapshot-.*\.json$/.test(name))
    .reduce((sum, name) => sum + statSync(join(path, name)).size, 0)

async function timedOpen(path) {
  const t = process.hrtime.bigint()
  const store = fileStore({ path })
  const report = await store.open()
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  await store.close()
  return { ms, report }
}

async function recovery(operations) {
  // Baseline: compaction off, so opening replays all the operations.
  const path = join(root, 'recovery')
  await fill(path, operations, { compactBytes: Number.POSITIVE_INFINITY })
  const journalBytes = statSync(join(path, 'journal.log')).size
  let t = process.hrtime.bigint()
  const reader = fileStore({ path, compactBytes: Number.POSITIVE_INFINITY })
  const report = await reader.open()
  const openJournalMs = Number(process.hrtime.bigint() - t) / 1e6
  t = process.hrtime.bigint()
  await reader.compact()
  const compactMs = Number(process.hrtime.bigint() - t) / 1e6
  await reader.close()
  const snapshotBytes = snapshotSize(path)
  const openSnapshotMs = (await timedOpen(path)).ms
  // The default: automatic compaction while the operations are written; the store then opens from its last
  // snapshot plus what was journaled since.
  const auto = join(root, 'recovery-auto')
  const written = await fill(auto, operations, {})
  const autoJournalBytes = statSync(join(auto, 'journal.log')).size
  const opened = await timedOpen(auto)
  // The worst case: the journal just below the compaction threshold (the default, 32 MiB) on top of the snapshot.
  const threshold = 32 * 1024 * 1024
  const worst = fileStore({ path: auto, durability: 'batch', compactBytes: threshold })
  let next = operations
  while (worst.stats().journalBytes === 0 || worst.stats().journalBytes < threshold - 1.5 * 1048576) {
    await Promise.all(
      Array.from({ length: 2000 }, (_, j) => {
        const callId = `rec-${next + j}`
        const now = T0 + next + j
        return worst.commit({
          callId,
          now,
          entries: [{ key: KEYS[j % 4], amount: 1_000, expiresAt: null }],
          dedupeUntil: now + 60_000,
          record: { callId, startedAt: now, endedAt: now, model: 'gpt-4o', costNanoUsd: 1_000 },
        })
      }),
    )
    next += 2000
  }
  await worst.close()
  const worstJournalBytes = statSync(join(auto, 'journal.log')).size
  const worstOpen = await timedOpen(auto)
  return {
    operations: report.operationsReplayed,
    journalBytes,
    openJournalMs,
    compactMs,
    snapshotBytes,
    openSnapshotMs,
    auto: {
      compactions: written.compactions,
      journalBytes: autoJournalBytes,
      snapshotBytes: snapshotSize(auto),
      replayed: opened.report.operationsReplayed,
      openMs: opened.ms,
    },
    worst: {
      journalBytes: worstJournalBytes,
      snapshotBytes: snapshotSize(auto),
      replayed: worstOpen.report.operationsReplayed,
      openMs: worstOpen.ms,
    },
  }
}

const scale = quick ? 0.1 : 1
const rows = []
const only = process.env.FILE_BENCH_ONLY
try {
  if (only === undefined) {
    rows.push(await run('reference: memoryStore, 1000 in flight', 'memory', 1000, Math.round(200_000 * scale)))
    rows.push(
      await run('group commit, fsync, 1000 in flight', { durability: 'fsync' }, 1000, Math.round(200_000 * scale)),
    )
    rows.push(
      await run('group commit, fsync, 100 in flight', { durability: 'fsync' }, 100, Math.round(100_000 * scale)),
    )
    rows.push(
      await run('one call at a time, fsync per operation', { durability: 'fsync' }, 1, Math.round(3_000 * scale)),
    )
    rows.push(
      await run(
        'group commit, batch (100 ms window), 1000 in flight',
        { durability: 'batch' },
        1000,
        Math.round(200_000 * scale),
      ),
    )
    rows.push(await run('one call at a time, batch', { durability: 'batch' }, 1, Math.round(20_000 * scale)))
    const fmt = (n) => (n < 1 ? n.toFixed(3) : n.toFixed(2))
    console.log(
      `\n### fileStore (Node ${process.version}, reserve + commit on 4 ledger keys with a spend record per call; load average ${loadavg()
        .map((n) => n.toFixed(1))
        .join(' ')})\n`,
    )
    console.log('| run | committed calls/s | p50 ms/call | p99 ms/call | frames (fsyncs)/s | operations per frame |')
    console.log('|---|---:|---:|---:|---:|---:|')
    for (const r of rows)
      console.log(
        `| ${r.name} | ${r.callsPerSecond.toLocaleString('en-US')} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.framesPerSecond.toLocaleString('en-US')} | ${r.opsPerFrame} |`,
      )
  }
  const operations = Math.round(1_000_000 * scale)
  const rec = await recovery(operations)
  const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`
  console.log(
    `\n### Opening a store that received ${operations.toLocaleString('en-US')} operations (load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(' ')})\n`,
  )
  console.log('| store | journal | snapshot | operations replayed | open | ratio to baseline |')
  console.log('|---|---:|---:|---:|---:|---:|')
  console.log(
    `| baseline: compaction off, the whole journal replayed | ${mib(rec.journalBytes)} | - | ${rec.operations.toLocaleString('en-US')} | ${rec.openJournalMs.toFixed(0)} ms | 1.00x |`,
  )
  console.log(
    `| default automatic compaction (${rec.auto.compactions} compactions while writing) | ${mib(rec.auto.journalBytes)} | ${mib(rec.auto.snapshotBytes)} | ${rec.auto.replayed.toLocaleString('en-US')} | ${rec.auto.openMs.toFixed(0)} ms | ${(rec.auto.openMs / rec.openJournalMs).toFixed(2)}x |`,
  )
  console.log(
    `| worst case: the journal just below the default threshold (32 MiB) | ${mib(rec.worst.journalBytes)} | ${mib(rec.worst.snapshotBytes)} | ${rec.worst.replayed.toLocaleString('en-US')} | ${rec.worst.openMs.toFixed(0)} ms | ${(rec.worst.openMs / rec.openJournalMs).toFixed(2)}x |`,
  )
  console.log(
    `| the baseline after one compaction (${rec.compactMs.toFixed(0)} ms) | - | ${mib(rec.snapshotBytes)} | 0 | ${rec.openSnapshotMs.toFixed(0)} ms | ${(rec.openSnapshotMs / rec.openJournalMs).toFixed(2)}x |`,
  )
} finally {
  rmSync(root, { recursive: true, force: true })
}
