#!/usr/bin/env node
// Soak test of the file store with frozen lock holders: several writer processes share one directory (tiny
// compaction threshold, short staleLockMs); again and again one of them is stopped with a real SIGSTOP for longer
// than staleLockMs, at whatever moment it happens to be in (holding the lock, writing, syncing, compacting), so that
// another writer takes the lock over; then it is resumed with SIGCONT and runs next to the new holder. After every
// round a checker opens the store (never with `repair`) and verifies that every commit any writer acknowledged is
// present exactly once and that spend equals the sum of the records. Writes a resumed process had pending fail with
// a StorageError ("fail" lines): they were not acknowledged, and retrying them is safe.
//
//   npm run soak:file-frozen                          (2 minutes, 3 writers)
//   SOAK_SECONDS=600 SOAK_WRITERS=4 npm run soak:file-frozen
//   FILE_STORE_MODULE=/path/to/file.mjs node scripts/soak-file-frozen.mjs   (another build; default ../dist/file.js)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const modulePath = process.env.FILE_STORE_MODULE ?? join(here, '..', 'dist', 'file.js')
const { fileStore } = await import(pathToFileURL(modulePath).href)
const worker = join(here, '..', 'test', 'stores', 'file-worker.mjs')
const seconds = Number(process.env.SOAK_SECONDS ?? 120)
const writers = Number(process.env.SOAK_WRITERS ?? 3)
const staleMs = Number(process.env.SOAK_STALE_MS ?? 200)
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-soak-frozen-'))
const KEY = 'user:shared|total|usd'
const T0 = 1_800_000_000_000
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const acknowledged = new Set()
let failedWrites = 0
let stops = 0
let rounds = 0
let generation = 0
const children = []

function startWriter(slot) {
  const env = {
    ...process.env,
    FILE_STORE_MODULE: modulePath,
    STORE_DIR: dir,
    MODE: 'writer',
    WORKER_ID: `w${slot}-${Date.now().toString(36)}`,
    CONCURRENCY: String(4 + slot * 4),
    COMPACT_BYTES: String(32_768 + slot * 16_384),
    DURABILITY: slot % 3 === 2 ? 'batch' : 'fsync',
    STALE_MS: String(staleMs),
    MAX_RECORDS: 'Infinity',
    STOP_AT: 'none', // go on after a failed write instead of exiting
  }
  const child = spawn(process.execPath, [worker], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let buffered = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop()
    for (const line of lines) {
      if (line.startsWith('ack ')) acknowledged.add(line.slice(4))
      else if (line.startsWith('fail ')) failedWrites++
    }
  })
  children.push(child)
  return child
}

async function check() {
  const store = fileStore({
    path: dir,
    maxRecords: Number.POSITIVE_INFINITY,
    lockTimeoutMs: 60_000,
    staleLockMs: 60_000,
  })
  const report = await store.open()
  if (report.droppedRanges.length > 0) throw new Error(`damage found: ${JSON.stringify(report)}`)
  generation = report.generation
  const acks = [...acknowledged]
  const [records, [balance]] = await Promise.all([store.queryRecords({}), store.balances({ keys: [KEY], now: T0 })])
  await store.close()
  const ids = new Set(records.map((r) => r.callId))
  if (ids.size !== records.length) throw new Error('a commit was recorded twice')
  const lost = acks.filter((id) => !ids.has(id))
  if (lost.length > 0)
    throw new Error(`${lost.length} acknowledged commits are missing, e.g. ${lost.slice(0, 5).join(', ')}`)
  if (balance.spent !== 5 * records.length) throw new Error(`spent ${balance.spent} != 5 x ${records.length} records`)
  return records.length
}

console.log(`soak (frozen holders): ${writers} writers, staleLockMs ${staleMs}, ${seconds} s in ${dir}`)
const deadline = Date.now() + seconds * 1000
for (let slot = 0; slot < writers; slot++) startWriter(slot)
let failed = false
try {
  await sleep(500)
  while (Date.now() < deadline) {
    const victim = children[Math.floor(Math.random() * children.length)]
    await sleep(Math.random() * 200) // a random moment of its work
    victim.kill('SIGSTOP')
    stops++
    await sleep(staleMs * (1.5 + Math.random() * 2)) // well past staleLockMs: another writer takes the lock over
    victim.kill('SIGCONT')
    await sleep(100 + Math.random() * 300) // side by side with the new holder
    rounds++
    if (rounds % 10 === 0) {
      const records = await check()
      console.log(
        `${new Date().toISOString()} rounds=${rounds} stops=${stops} acknowledged=${acknowledged.size} failedWrites=${failedWrites} records=${records} generation=${generation} lost=0`,
      )
    }
  }
  for (const child of children) child.kill('SIGKILL')
  await sleep(200)
  const records = await check()
  console.log(
    `soak passed: iterations=${rounds} stops=${stops} acknowledged=${acknowledged.size} lost=0 failedWrites=${failedWrites} (not acknowledged) records=${records} generation=${generation}`,
  )
} catch (error) {
  failed = true
  console.error(`soak FAILED (directory kept for inspection: ${dir}):`, error)
}
for (const child of children) child.kill('SIGKILL')
if (!failed) rmSync(dir, { recursive: true, force: true })
process.exit(failed ? 1 : 0)
