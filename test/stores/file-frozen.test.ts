// fileStore with a frozen lock holder (issue 11, finding 1): a writer stopped with a real SIGSTOP for longer than
// `staleLockMs` loses the lock to another process; when it is resumed with SIGCONT it must not acknowledge anything
// it wrote next to the new holder, and must not damage what the new holder wrote. Afterwards the store opens without
// `repair`, and every acknowledged commit is there exactly once.
import { mkdtempSync, rmSync } from 'node:fs'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import { bundleStore, startWorker } from './file-helpers.js'
import type { Child } from './file-helpers.js'

const root = mkdtempSync(join(tmpdir(), 'llm-budget-file-frozen-'))
let modulePath = ''
beforeAll(async () => {
  modulePath = (await bundleStore(join(root, 'bundle')))['file-store']!
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

const T0 = 1_800_000_000_000
const KEY = 'user:shared|total|usd'
let counter = 0
const freshDir = (): string => join(root, `d${++counter}`)

const acks = (child: Child): string[] =>
  child.lines.filter((line) => line.startsWith('ack ')).map((line) => line.slice(4))
/** Resolves once the child has acknowledged `n` more commits than it had when called. */
const moreAcks = (child: Child, n: number): Promise<string> => {
  const target = acks(child).length + n
  let seen = 0
  return child.waitFor((line) => line.startsWith('ack ') && ++seen >= target)
}
/** The process state letter from /proc (T: stopped). */
const processState = (pid: number): string => /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?'

describe('fileStore with a frozen lock holder (real SIGSTOP / SIGCONT)', () => {
  for (const stopAt of ['lockAcquired', 'beforeWrite', 'afterWrite', 'beforeSync'] as const) {
    it(`stopped at ${stopAt} beyond staleLockMs, then resumed: 0 acknowledged commits lost, opens without repair`, async () => {
      const dir = freshDir()
      const common = {
        FILE_STORE_MODULE: modulePath,
        STORE_DIR: dir,
        MODE: 'writer',
        CONCURRENCY: '8',
        STALE_MS: '300',
        MAX_RECORDS: 'Infinity',
      }
      const frozen = startWorker({ ...common, WORKER_ID: 'frozen', STOP_AT: stopAt, STOP_ON: '15' })
      let peer: Child | null = null
      try {
        await frozen.waitFor((line) => line === 'stopped')
        await new Promise((resolve) => setTimeout(resolve, 20))
        expect(processState(frozen.process.pid!)).toBe('T')
        peer = startWorker({ ...common, WORKER_ID: 'peer' })
        await moreAcks(peer, 40) // the peer took the stale lock over and commits
        frozen.process.kill('SIGCONT')
        await frozen.waitFor((line) => line === 'resumed')
        // both run side by side for a while: the resumed process settles its stopped batch and goes on
        await Promise.all([moreAcks(peer, 40), moreAcks(frozen, 20)])
      } finally {
        frozen.process.kill('SIGKILL')
        peer?.process.kill('SIGKILL')
        await Promise.all([frozen.exited, peer?.exited])
      }
      const acknowledged = [...acks(frozen), ...acks(peer!)]
      const store = fileStore({ path: dir, maxRecords: Number.POSITIVE_INFINITY })
      const report = await store.open() // no repair needed
      expect(report.droppedRanges).toEqual([])
      const records = await store.queryRecords({})
      const ids = new Set(records.map((r) => r.callId))
      expect(acknowledged.filter((callId) => !ids.has(callId))).toEqual([])
      expect(ids.size).toBe(records.length)
      expect((await store.balances({ keys: [KEY], now: T0 }))[0]!.spent).toBe(5 * records.length)
      const failed = [...frozen.lines, ...peer!.lines].filter((line) => line.startsWith('fail ')).length
      console.log(
        `frozen at ${stopAt}: ${acknowledged.length} acknowledged, 0 lost, ${failed} failed (not acknowledged), ${records.length} records`,
      )
      await store.close()
    }, 60_000)
  }
})
