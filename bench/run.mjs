// Runs every bench/*.bench.mjs in its own process, in turn, and prints their tables.
// Usage: npm run bench            (all)
//        npm run bench -- cost    (only files whose name contains "cost")
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const filter = process.argv[2]
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs') && (!filter || f.includes(filter)))
  .sort()
let failed = 0
for (const file of files) {
  console.log(`\n## ${file}\n`)
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { stdio: 'inherit' })
  if (result.status !== 0) {
    failed++
    console.error(`${file} exited with ${result.status}`)
  }
}
process.exit(failed > 0 ? 1 : 0)
