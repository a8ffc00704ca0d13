// Retention of spend history in the memory and file stores: records evicted, rollups exact, coverage reported; the
// file store keeps rollups and coverage across a reopen (snapshot and journal replay).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import { memoryStore } from '../../src/stores/memory.js'
import { encodeFrame, readFrame } from '../../src/stores/file/format.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { retentionTests, type RetentionOptions } from './retention-cases.js'

describe('memoryStore retention', () => {
  retentionTests(async (options) => memoryStore(options))

  it('refuses invalid retention options, naming them', () => {
    expect(() => memoryStore({ recordRetentionMs: -1 })).toThrow(/recordRetentionMs/)
    expect(() => memoryStore({ rollupRetentionMs: Number.NaN })).toThrow(/rollupRetentionMs/)
    expect(() => memoryStore({ rollupRetention: 5 } as never)).toThrow(/rollupRetentionMs/)
  })
})

const root = mkdtempSync(join(tmpdir(), 'llm-budget-retention-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let counter = 0

// The file store takes the same retention options; they are stored in the journal header, so a reopen without them
// replays with the stored ones (the reopen below passes none).
const fileOptions = (path: string, options: RetentionOptions) => ({ path, ...options })

describe('fileStore retention (journal replay)', () => {
  retentionTests(
    async (options) => fileStore(fileOptions(join(root, `j${++counter}`), options)),
    async (store) => {
      const path = (store as unknown as { path: string }).path
      await store.close()
      return fileStore({ path })
    },
  )
})

describe('fileStore retention (snapshot)', () => {
  retentionTests(
    async (options) => fileStore(fileOptions(join(root, `s${++counter}`), options)),
    async (store, options) => {
      const path = (store as unknown as { path: string }).path
      await (store as unknown as { compact(): Promise<void> }).compact()
      await store.close()
      return fileStore({ path, ...options })
    },
  )
})

describe('fileStore retention options', () => {
  const DAY = 86_400_000
  const T0 = 1_800_000_000_000 - (1_800_000_000_000 % DAY)
  const commit = (store: BudgetStore, id: string, at: number) =>
    store.commit({
      callId: id,
      now: at,
      entries: [{ key: 'k', amount: 1, expiresAt: null }],
      dedupeUntil: at + 60_000,
      record: { callId: id, startedAt: at, endedAt: at, model: 'm', costNanoUsd: 1, context: { user: 'u' } },
    })

  it('refuses bad values with a BudgetConfigError naming the option, and changes nothing on disk', () => {
    const path = join(root, `bad${++counter}`)
    for (const [options, name] of [
      [{ recordRetentionMs: -1 }, 'recordRetentionMs'],
      [{ recordRetentionMs: 1.5 }, 'recordRetentionMs'],
      [{ rollupRetentionMs: Number.NaN }, 'rollupRetentionMs'],
      [{ rollupRetentionMs: '400d' }, 'rollupRetentionMs'],
      [{ rollupRetention: 5 }, 'rollupRetentionMs'],
    ] as const) {
      let error: unknown
      try {
        fileStore({ path, ...(options as object) } as never)
      } catch (e) {
        error = e
      }
      expect(error).toMatchObject({ code: 'BUDGET_CONFIG', message: expect.stringContaining(name) })
    }
    expect(existsSync(path)).toBe(false)
  })

  it('stores the retention in the journal: a reopen without it keeps it, a reopen with another value is refused', async () => {
    const path = join(root, `keep${++counter}`)
    const first = fileStore({ path, recordRetentionMs: DAY, rollupRetentionMs: 30 * DAY })
    await commit(first, 'a', T0)
    await first.close()
    const frame = readFrame(readFileSync(join(path, 'journal.log')), 0, 1 << 20)
    const header = frame.ok ? (JSON.parse(frame.payload.toString('utf8')) as Record<string, unknown>) : null
    expect(header).toMatchObject({ maxRecords: 100_000, recordRetentionMs: DAY, rollupRetentionMs: 30 * DAY })
    for (const [options, name] of [
      [{ recordRetentionMs: 2 * DAY }, 'recordRetentionMs'],
      [{ rollupRetentionMs: Number.POSITIVE_INFINITY }, 'rollupRetentionMs'],
    ] as const) {
      await expect(fileStore({ path, ...options }).open()).rejects.toMatchObject({
        code: 'BUDGET_CONFIG',
        field: name,
        message: expect.stringMatching(new RegExp(`\`${name}\` is .* was created with`)),
      })
    }
    // Reopened without the options (a real reopen of the directory): a record older than a day goes at the next
    // sweep, a record younger than a day stays, through a compaction and another reopen.
    const second = fileStore({ path })
    await commit(second, 'b', T0 + DAY - 1)
    await commit(second, 'c', T0 + DAY + 60_000)
    expect((await second.queryRecords({})).map((r) => r.callId)).toEqual(['b', 'c'])
    await second.compact()
    await second.close()
    const third = fileStore({ path, recordRetentionMs: DAY, rollupRetentionMs: 30 * DAY })
    expect((await third.queryRecords({})).map((r) => r.callId)).toEqual(['b', 'c'])
    const rollups = await third.queryRollups!({ scopes: ['user:u'] })
    expect([rollups.rows.reduce((n, r) => n + r.calls, 0), rollups.recordsFrom]).toEqual([3, T0 + 1])
    await third.close()
  })

  it('opens a journal written before time-based retention with the retention it was replayed with', async () => {
    const path = join(root, `legacy${++counter}`)
    mkdirSync(path)
    const header = { journal: 2, generation: 0, maxRecords: 50, snapshot: null }
    writeFileSync(join(path, 'journal.log'), encodeFrame(JSON.stringify(header)))
    const store = fileStore({ path, recordRetentionMs: Number.POSITIVE_INFINITY, rollupRetentionMs: 400 * DAY })
    await commit(store, 'x', T0)
    expect(await store.queryRecords({})).toHaveLength(1)
    await store.close()
    await expect(fileStore({ path, rollupRetentionMs: DAY }).open()).rejects.toMatchObject({
      field: 'rollupRetentionMs',
    })
  })
})
