#!/usr/bin/env node
// Soak test of the file store, longer than CI should run: several writer processes share one directory and are
// killed with SIGKILL at random moments and restarted, with a tiny compaction threshold so that kills also land
// inside compactions and recoveries. Every few seconds a checker opens the store and verifies that every commit
// any writer acknowledged is present exactly once, that spend equals the sum of the records, that the store
// reopens, and that no temporary file is left behind.
//
//   npm run soak:file                       (5 minutes, 3 writers)
//   SOAK_SECONDS=3600 SOAK_WRITERS=4 npm run soak:file
//   FILE_STORE_MODULE=/path/to/file.mjs node scripts/soak-file.mjs   (another build; default ../dist/file.js)
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const modulePath = process.env.FILE_STORE_MODULE ?? join(here, '..', 'dist', 'file.js')
const { fileStore } = await import(pathToFileURL(modulePath).href)
const worker = join(here, '..', 'test', 'stores', 'file-worker.mjs')
const seconds = Number(process.env.SOAK_SECONDS ?? 300)
const writers = Number(process.env.SOAK_WRITERS ?? 3)
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-soak-'))
const KEY = 'user:shared|total|usd'
const T0 = 1_800_000_000_000

const acknowledged = new Set()
let kills = 0
let generation = 0
let checks = 0
let tornTails = 0
const running = new Set()

function startWriter(slot, round) {
  const env = {
    ...process.env,
    FILE_STORE_MODULE: modulePath,
    STORE_DIR: dir,
    MODE: 'writer',
    WORKER_ID: `s${slot}-r${round}`,
    CONCURRENCY: String(1 + Math.floor(Math.random() * 32)),
    COMPACT_BYTES: String(16_384 + Math.floor(Math.random() * 65_536)),
    DURABILITY: Math.random() < 0.25 ? 'batch' : 'fsync',
    MAX_RECORDS: 'Infinity',
  }
  const child = spawn(process.execPath, [worker], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  running.add(child)
  let buffered = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop()
    for (const line of lines) if (line.startsWith('ack ')) acknowledged.add(line.slice(4))
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20 + Math.random() * 1500)
  child.on('close', () => {
    clearTimeout(timer)
    running.delete(child)
    kills++
    if (Date.now() < deadline) startWriter(slot, round + 1)
  })
}

async function check() {
  const store = fileStore({ path: dir, maxRecords: Number.POSITIVE_INFINITY, lockTimeoutMs: 60_000 })
  const report = await store.open()
  if (report.droppedRanges.length > 0) throw new Error(`corruption found: ${JSON.stringify(report)}`)
  if (report.truncatedTailBytes > 0) tornTails++
  generation = store.stats().generation
  const snapshotOfAcks = [...acknowledged]
  // Both reads are queued in the same tick, so they run in one batch under one lock: a consistent view while the
  // writers keep writing.
  const [records, [balance]] = await Promise.all([store.queryRecords({}), store.balances({ keys: [KEY], now: T0 })])
  const ids = new Set(records.map((r) => r.callId))
  if (ids.size !== records.length) throw new Error('a commit was recorded twice')
  const missing = snapshotOfAcks.filter((id) => !ids.has(id))
  if (missing.length > 0)
    throw new Error(`${missing.length} acknowledged commits are missing, e.g. ${missing.slice(0, 5).join(', ')}`)
  if (balance.spent !== 5 * records.length) throw new Error(`spent ${balance.spent} != 5 x ${records.length} records`)
  await store.close()
  checks++
  return records.length
}

const deadline = Date.now() + seconds * 1000
console.log(`soak: ${writers} writers for ${seconds} s in ${dir}`)
for (let slot = 0; slot < writers; slot++) startWriter(slot, 0)
let failed = false
try {
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const records = await check()
    console.log(
      `${new Date().toISOString()} kills=${kills} acknowledged=${acknowledged.size} records=${records} generation=${generation} checks=${checks}`,
    )
  }
  while (running.size > 0) await new Promise((resolve) => setTimeout(resolve, 100))
  const records = await check()
  const strays = readdirSync(dir).filter((name) => name.includes('.tmp') || name.startsWith('lock'))
  if (strays.length > 0) throw new Error(`stray files after the last open: ${strays.join(', ')}`)
  console.log(
    `soak passed: ${kills} kills, ${acknowledged.size} acknowledged commits all present once, ${records} records, ${tornTails} torn tails truncated, generation ${generation}`,
  )
} catch (error) {
  failed = true
  console.error(`soak FAILED (directory kept for inspection: ${dir}):`, error)
  for (const child of running) child.kill('SIGKILL')
}
if (!failed) rmSync(dir, { recursive: true, force: true })
process.exit(failed ? 1 : 0)
