// Retention of spend history in the memory and file stores: records evicted, rollups exact, coverage reported; the
// file store keeps rollups and coverage across a reopen (snapshot and journal replay).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import { memoryStore } from '../../src/stores/memory.js'
import { retentionTests } from './retention-cases.js'

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

describe('fileStore retention (journal replay)', () => {
  retentionTests(
    async (options) => fileStore({ path: join(root, `j${++counter}`), maxRecords: options.maxRecords ?? 100_000 }),
    async (store, options) => {
      const path = (store as unknown as { path: string }).path
      await store.close()
      return fileStore({ path, maxRecords: options.maxRecords ?? 100_000 })
    },
    { timeBased: false },
  )
})

describe('fileStore retention (snapshot)', () => {
  retentionTests(
    async (options) => fileStore({ path: join(root, `s${++counter}`), maxRecords: options.maxRecords ?? 100_000 }),
    async (store, options) => {
      const path = (store as unknown as { path: string }).path
      await (store as unknown as { compact(): Promise<void> }).compact()
      await store.close()
      return fileStore({ path, maxRecords: options.maxRecords ?? 100_000 })
    },
    { timeBased: false },
  )
})
