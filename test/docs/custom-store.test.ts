// The store that docs/custom-store.md builds (its first ```ts block, taken from the page as it is) passes the
// store contract suite, so the page's example is a working store and not only one that compiles.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { runStoreContract } from '../../src/testing/index.js'
import { ROOT, extractSnippets } from '../helpers/snippets.js'

const snippet = extractSnippets('docs/custom-store.md')[0]!
const dir = join(ROOT, '.tmp', 'custom-store')
mkdirSync(dir, { recursive: true })
writeFileSync(join(dir, 'counting-store.ts'), snippet.code)
const { countingStore } = (await import(pathToFileURL(join(dir, 'counting-store.ts')).href)) as {
  countingStore: (inner: BudgetStore) => BudgetStore & { counts: Map<string, number> }
}

it('the page defines countingStore, which counts what it serves', async () => {
  const store = countingStore(memoryStore())
  await store.reserve({
    callId: 'c1',
    now: 1,
    holdExpiresAt: 1000,
    entries: [{ key: 'k', amount: 5, limit: 10, expiresAt: null }],
  })
  await store.commit({ callId: 'c1', now: 2, entries: [{ key: 'k', amount: 4, expiresAt: null }], dedupeUntil: 1000 })
  expect(Object.fromEntries(store.counts)).toEqual({ reserve: 1, commit: 1 })
  expect(await store.balances({ keys: ['k'], now: 3 })).toEqual([{ spent: 4, reserved: 0 }])
  await store.close()
})

runStoreContract(it, () => countingStore(memoryStore()), { concurrency: 200 })
