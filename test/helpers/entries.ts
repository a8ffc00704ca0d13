/**
 * The entry points that tests start as real processes, bundled once per run by `test/helpers/global-setup.ts`:
 * `[process.execPath, bundle]` starts one as `node --import tsx <entry>.ts` did, without tsx.
 */
import { inject } from 'vitest'
import type { EntryName } from './global-setup.js'

/** The bundled `.mjs` file of an entry (see `ENTRIES` in global-setup.ts). */
export function bundledEntry(name: EntryName): string {
  const path = inject('bundledEntries')[name]
  if (path === undefined) throw new Error(`no bundle for ${name}: is test/helpers/global-setup.ts in vitest.config.ts?`)
  return path
}
