// fileStore: the store contract in both durability modes, plus the file store's own single-process behaviour
// (persistence across reopen, compaction, corruption, repair, validation before writing, injected I/O faults).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import type { FileStoreOptions } from '../../src/stores/file.js'
import type { FileStoreFaults } from '../../src/stores/file/faults.js'
import { createFileStore } from '../../src/stores/file/store.js'
import { runStoreContract } from '../../src/testing/index.js'

const root = mkdtempSync(join(tmpdir(), 'llm-budget-file-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let counter = 0
const freshDir = (): string => join(root, `s${++counter}`)

const T0 = 1_800_000_000_000
const DAY = 86_400_000

describe('fileStore (fsync)', () => {
  runStoreContract(it, () => fileStore({ path: freshDir(), durability: 'fsync' }), { concurrency: 1000 })
})

describe('fileStore (batch)', () => {
  runStoreContract(it, () => fileStore({ path: freshDir(), durability: 'batch', syncIntervalMs: 20 }), {
    concurrency: 1000,
  })
})

const JOURNAL = (dir: string): string => join(dir, 'journal.log')
const size = (dir: string): number => statSync(JOURNAL(dir)).size

async function seed(
  options: Omit<FileStoreOptions, 'path'> & { path?: string; faults?: FileStoreFaults } = {},
  commits = 10,
) {
  const { faults, ...rest } = options
  const path = rest.path ?? freshDir()
  const store = createFileStore({ ...rest, path }, faults)
  for (let i = 0; i < commits; i++) {
    const callId = `c${i}`
    // one frame per commit: each is awaited before the next
    await store.commit({
      callId,
      now: T0 + i,
      entries: [{ key: 'k', amount: 100, expiresAt: null }],
      dedupeUntil: T0 + DAY,
      record: { callId, startedAt: T0, endedAt: T0 + i },
    })
  }
  return { path, store }
}

const spent = async (store: ReturnType<typeof fileStore>): Promise<number> =>
  (await store.balances({ keys: ['k'], now: T0 }))[0]!.spent

describe('fileStore persistence and recovery', () => {
  it('keeps balances, budgets, history and records across reopen', async () => {
    const { path, store } = await seed()
    await store.reserve({
      callId: 'held',
      now: T0,
      holdExpiresAt: T0 + DAY,
      entries: [{ key: 'k', amount: 7, limit: 10_000, expiresAt: null }],
    })
    await store.putBudget({
      scope: 'user:a',
      definition: { maxBudget: 1 },
      now: T0,
      history: { scope: 'user:a', action: 'create', at: T0, old: null, new: { maxBudget: 1 }, reason: 'x' },
    })
    await store.close()
    const again = fileStore({ path })
    expect(await again.balances({ keys: ['k'], now: T0 })).toEqual([{ spent: 1000, reserved: 7 }])
    expect((await again.getBudget('user:a'))?.definition).toEqual({ maxBudget: 1 })
    expect((await again.getHistory('user:a')).length).toBe(1)
    expect((await again.queryRecords({})).map((r) => r.callId)).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`))
    await again.close()
  })

  it('compacts into a snapshot when the journal passes compactBytes, and reopens to the same state', async () => {
    const { path, store } = await seed({ compactBytes: 4096 }, 60)
    expect(store.stats().compactions).toBeGreaterThan(0)
    expect(size(path)).toBeLessThan(4096 + 2048)
    const snapshots = readdirSync(path).filter((name) => name.startsWith('snapshot-'))
    expect(snapshots).toHaveLength(1)
    expect(snapshots[0]).toMatch(new RegExp(`^snapshot-${store.stats().generation}-[0-9a-f]+\\.json$`))
    await store.close()
    const again = fileStore({ path })
    expect(await spent(again)).toBe(6000)
    expect((await again.queryRecords({})).length).toBe(60)
    await again.close()
  })

  it('an invalid request is an InvalidInputError and writes nothing', async () => {
    const { path, store } = await seed({}, 1)
    const before = size(path)
    await expect(
      store.reserve({
        callId: 'x',
        now: T0,
        holdExpiresAt: T0 + 1,
        entries: [{ key: 'k', amount: -1, limit: null, expiresAt: null }],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(store.commit({ callId: 'y', now: Number.NaN, entries: [], dedupeUntil: T0 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    await expect(
      store.putBudget({
        scope: 'user:z',
        definition: circular as never,
        now: T0,
        history: { scope: 'user:z', action: 'create', at: T0, old: null, new: null, reason: null },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(size(path)).toBe(before)
    await store.close()
  })

  it('drops a torn tail (a crash during the last write) and keeps everything before it', async () => {
    const { path, store } = await seed()
    await store.close()
    const whole = size(path)
    const journal = readFileSync(JOURNAL(path))
    // a frame cut short, as a crash during its write leaves it: the first 60 bytes of a frame (its length runs past
    // the end of the file)
    const lastFrame = journal.lastIndexOf(Buffer.from('LBf1'))
    const torn = journal.subarray(lastFrame, lastFrame + 60)
    writeFileSync(JOURNAL(path), Buffer.concat([journal, torn]))
    const again = fileStore({ path })
    const report = await again.open()
    expect(report.truncatedTailBytes).toBe(60)
    expect(report.droppedRanges).toEqual([])
    // kept aside, and left in place: the next frame says it continues after them (nothing is truncated under a
    // process that might still be writing)
    expect(readFileSync(report.tornTailPreservedAs!).equals(torn)).toBe(true)
    expect(size(path)).toBe(whole + 60)
    expect(await spent(again)).toBe(1000)
    await again.commit({
      callId: 'after',
      now: T0,
      entries: [{ key: 'k', amount: 1, expiresAt: null }],
      dedupeUntil: T0 + DAY,
    })
    await again.close()
    const third = fileStore({ path })
    expect((await third.open()).truncatedTailBytes).toBe(0)
    expect(await spent(third)).toBe(1001)
    await third.close()
  })

  // Issue 11, finding 2: only a torn last frame may be dropped; damage inside the last complete frame used to be
  // truncated silently (one flipped byte: 50 acknowledged commits became 49; a zeroed last page: 12 lost).
  const damagedTails: [string, (journal: Buffer) => void][] = [
    [
      'one flipped byte in the last complete frame',
      (journal) => (journal[journal.length - 10] = journal[journal.length - 10]! ^ 0x01),
    ],
    ['a zeroed last 4 KiB page', (journal) => journal.fill(0, Math.max(0, journal.length - 4096))],
  ]
  for (const [what, damage] of damagedTails) {
    it(`refuses to open with ${what}; repair drops it, keeps a copy and reports it`, async () => {
      const { path, store } = await seed({}, 50)
      await store.close()
      const journal = readFileSync(JOURNAL(path))
      damage(journal)
      writeFileSync(JOURNAL(path), journal)
      const refused = fileStore({ path })
      await expect(refused.open()).rejects.toMatchObject({
        code: 'STORAGE',
        message: expect.stringMatching(/damage|corruption/),
      })
      expect(readFileSync(JOURNAL(path)).equals(journal)).toBe(true) // refusing changes nothing
      await refused.close()
      const repaired = fileStore({ path, repair: true })
      const report = await repaired.open()
      expect(report.droppedRanges.length).toBeGreaterThan(0)
      expect(report.truncatedTailBytes).toBe(0)
      expect(readFileSync(report.preservedAs!).equals(journal)).toBe(true)
      const records = (await repaired.queryRecords({})).length
      expect(records).toBeLessThan(50)
      expect(await spent(repaired)).toBe(100 * records)
      await repaired.close()
    })
  }

  it('refuses to open on mid-file corruption; repair: true opens, drops the damaged frame, keeps a copy and reports it', async () => {
    const { path, store } = await seed()
    await store.close()
    const journal = readFileSync(JOURNAL(path))
    const damagedAt = Math.floor(journal.length / 2)
    journal[damagedAt] = journal[damagedAt]! ^ 0xff
    writeFileSync(JOURNAL(path), journal)
    const refused = fileStore({ path })
    await expect(refused.open()).rejects.toMatchObject({
      code: 'STORAGE',
      message: expect.stringMatching(/mid-file corruption[\s\S]*repair: true/),
    })
    await expect(refused.balances({ keys: ['k'], now: T0 })).rejects.toMatchObject({ code: 'STORAGE' })
    expect(readFileSync(JOURNAL(path)).equals(journal)).toBe(true) // refusing changes nothing
    await refused.close()

    const repaired = fileStore({ path, repair: true })
    const report = await repaired.open()
    expect(report.droppedRanges).toHaveLength(1)
    expect(report.droppedRanges[0]!.offset).toBeLessThanOrEqual(damagedAt)
    expect(report.droppedRanges[0]!.offset + report.droppedRanges[0]!.length).toBeGreaterThan(damagedAt)
    expect(report.preservedAs).not.toBeNull()
    expect(readFileSync(report.preservedAs!).equals(journal)).toBe(true)
    expect(await spent(repaired)).toBe(900) // exactly one commit (one frame) lost
    expect((await repaired.queryRecords({})).length).toBe(9)
    await repaired.close()
    const plain = fileStore({ path }) // repaired for good: opens without the option
    expect(await spent(plain)).toBe(900)
    await plain.close()
  })

  it('refuses a damaged snapshot', async () => {
    const { path, store } = await seed()
    await store.compact()
    await store.close()
    const snapshot = join(
      path,
      readdirSync(path).find((name) => name.startsWith('snapshot-1-'))!,
    )
    const bytes = readFileSync(snapshot)
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff
    writeFileSync(snapshot, bytes)
    await expect(fileStore({ path }).open()).rejects.toMatchObject({
      code: 'STORAGE',
      message: expect.stringMatching(/snapshot/),
    })
  })

  it('refuses to reopen with a different maxRecords', async () => {
    const { path, store } = await seed({ maxRecords: 50 }, 1)
    await store.close()
    await expect(fileStore({ path, maxRecords: 10 }).open()).rejects.toMatchObject({ code: 'BUDGET_CONFIG' })
    const same = fileStore({ path })
    await same.open()
    await same.close()
  })

  it('validates its options when created', () => {
    expect(() => fileStore({ path: '' })).toThrow(/path/)
    expect(() => fileStore({ path: 'x', durability: 'sometimes' as never })).toThrow(/durability/)
    expect(() => fileStore({ path: 'x', staleLockMs: -1 })).toThrow(/staleLockMs/)
  })

  it('refuses bad options with a BudgetConfigError naming the option (issue 11 finding 11, issue 12 point 7)', () => {
    const refusal = (options: unknown) => {
      try {
        fileStore(options as FileStoreOptions)
      } catch (error) {
        return { name: (error as Error).name, message: (error as Error).message }
      }
      return null
    }
    // a NUL in the path is a configuration error, not a StorageError at the first operation
    expect(refusal({ path: 'budget\0dir' })).toEqual({
      name: 'BudgetConfigError',
      message: expect.stringMatching(/`path` must not contain a NUL character/),
    })
    expect(refusal({ path: 'x', stalLockMs: 100 })).toEqual({
      name: 'BudgetConfigError',
      message: expect.stringMatching(/no option `"stalLockMs"`[\s\S]*`staleLockMs`/),
    })
    expect(refusal({ path: 'x', faults: {} })?.name).toBe('BudgetConfigError') // fault hooks are not an option
    // a count is called a count
    expect(refusal({ path: 'x', maxBatchOperations: 0 })?.message).toMatch(
      /`maxBatchOperations` must be a whole number of operations from 1 to 1000000, got 0/,
    )
    expect(refusal({ path: 'x', syncIntervalMs: 0.5 })?.message).toMatch(
      /`syncIntervalMs` must be a whole number of milliseconds/,
    )
  })

  it('says "file store:" once in its messages', async () => {
    const { path, store } = await seed({}, 3)
    await store.close()
    const journal = readFileSync(JOURNAL(path))
    journal[20] = journal[20]! ^ 0xff // inside the header frame
    writeFileSync(JOURNAL(path), journal)
    const error = await fileStore({ path })
      .open()
      .catch((e: unknown) => e as Error)
    expect((error as Error).message).toMatch(/^file store: the header of the journal/)
    expect((error as Error).message).not.toMatch(/file store: file store/)
  })

  it('is unusable after close', async () => {
    const { store } = await seed({}, 1)
    await store.close()
    await expect(store.balances({ keys: ['k'], now: T0 })).rejects.toMatchObject({ code: 'STORAGE' })
  })
})

describe('fileStore I/O faults (injected)', () => {
  const enospc = (): never => {
    throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
  }
  const eio = (): never => {
    throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
  }
  const cases: [string, (faults: FileStoreFaults) => void][] = [
    ['ENOSPC on write', (f) => (f.beforeWrite = enospc)],
    ['a partial write then ENOSPC', (f) => (f.beforeWrite = (bytes) => Math.floor(bytes / 2))],
    ['EIO on write', (f) => (f.beforeWrite = eio)],
    ['EIO on fsync', (f) => (f.beforeSync = eio)],
    ['ENOSPC on fsync', (f) => (f.beforeSync = enospc)],
  ]
  for (const [what, inject] of cases) {
    it(`${what}: a StorageError, nothing half-written, and the store works again when the fault clears`, async () => {
      const faults: FileStoreFaults = {}
      const { path, store } = await seed({ faults })
      const before = size(path)
      inject(faults)
      const attempts = await Promise.allSettled([
        store.reserve({
          callId: 'r1',
          now: T0,
          holdExpiresAt: T0 + DAY,
          entries: [{ key: 'k', amount: 5, limit: 100_000, expiresAt: null }],
        }),
        store.commit({
          callId: 'c-new',
          now: T0,
          entries: [{ key: 'k', amount: 50, expiresAt: null }],
          dedupeUntil: T0 + DAY,
        }),
      ])
      for (const attempt of attempts) {
        expect(attempt.status).toBe('rejected')
        expect((attempt as PromiseRejectedResult).reason).toMatchObject({ code: 'STORAGE', retryable: true })
      }
      expect(size(path)).toBe(before) // rolled back
      expect(await store.balances({ keys: ['k'], now: T0 })).toEqual([{ spent: 1000, reserved: 0 }]) // nothing applied
      delete faults.beforeWrite
      delete faults.beforeSync
      // the same call ids, retried, now succeed, once
      expect(
        (
          await store.reserve({
            callId: 'r1',
            now: T0,
            holdExpiresAt: T0 + DAY,
            entries: [{ key: 'k', amount: 5, limit: 100_000, expiresAt: null }],
          })
        ).ok,
      ).toBe(true)
      expect(
        (
          await store.commit({
            callId: 'c-new',
            now: T0,
            entries: [{ key: 'k', amount: 50, expiresAt: null }],
            dedupeUntil: T0 + DAY,
          })
        ).duplicate,
      ).toBe(false)
      await store.close()
      const again = fileStore({ path })
      expect(await again.balances({ keys: ['k'], now: T0 })).toEqual([{ spent: 1050, reserved: 5 }])
      await again.close()
    })
  }

  for (const failAt of ['snapshot-synced', 'journal-written', 'journal-renamed', 'journal-directory-synced'] as const) {
    it(`a compaction failing at ${failAt} is a StorageError, leaves no temporary file, and the store keeps working`, async () => {
      const faults: FileStoreFaults = {}
      const { path, store } = await seed({ faults })
      faults.compactionStep = (step) => {
        if (step === failAt) enospc()
      }
      await expect(store.compact()).rejects.toMatchObject({ code: 'STORAGE' })
      expect(readdirSync(path).filter((name) => name.endsWith('.tmp'))).toEqual([])
      delete faults.compactionStep
      await store.commit({
        callId: 'later',
        now: T0,
        entries: [{ key: 'k', amount: 1, expiresAt: null }],
        dedupeUntil: T0 + DAY,
      })
      expect(await spent(store)).toBe(1001)
      await store.close()
      const again = fileStore({ path })
      expect(await spent(again)).toBe(1001)
      expect((await again.queryRecords({})).length).toBe(10)
      await again.close()
    })
  }

  it('a compaction that keeps failing (full disk) is not retried on every batch', async () => {
    let attempts = 0
    const faults: FileStoreFaults = {
      compactionStep: (step) => {
        if (step === 'snapshot-written') {
          attempts++
          enospc()
        }
      },
    }
    const { store } = await seed({ faults, compactBytes: 4096 }, 100) // ~40 KB of journal: 10x compactBytes
    expect(attempts).toBeGreaterThan(0)
    expect(attempts).toBeLessThan(10) // one attempt per extra 1 MiB or compactBytes / 4, not one per batch
    expect(await spent(store)).toBe(10_000) // every commit was acknowledged
    await store.close()
  })
})
