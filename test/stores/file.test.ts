// fileStore: the store contract in both durability modes, plus the file store's own single-process behaviour
// (persistence across reopen, compaction, corruption, repair, validation before writing, injected I/O faults).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileStore } from '../../src/stores/file.js'
import type { FileStoreOptions } from '../../src/stores/file.js'
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
  runStoreContract(it, () => fileStore({ path: freshDir(), durability: 'batch', syncIntervalMs: 20 }), { concurrency: 1000 })
})
