// After tsup: make dist/cli/main.js an executable with a shebang, drop the generated price data from the source maps
// (its "source" is the data itself: mapping it doubles the package for no debugging value), and drop the second
// `//# sourceMappingURL` line of the CommonJS files (Rollup keeps esbuild's, then tsup appends its own).
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dist = new URL('../dist/', import.meta.url).pathname
const GENERATED = /(^|\/)src\/cost\/data\//

const cli = join(dist, 'cli/main.js')
const text = readFileSync(cli, 'utf8')
if (!text.startsWith('#!')) writeFileSync(cli, `#!/usr/bin/env node\n${text}`)
chmodSync(cli, 0o755)

let stripped = 0
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (entry.isFile() && entry.name.endsWith('.cjs')) {
    const path = join(entry.parentPath ?? entry.path, entry.name)
    const code = readFileSync(path, 'utf8')
    const url = `//# sourceMappingURL=${entry.name}.map`
    if (code.endsWith(`${url}\n${url}`)) writeFileSync(path, code.slice(0, -url.length - 1))
  }
  if (!entry.isFile() || !entry.name.endsWith('.map')) continue
  const path = join(entry.parentPath ?? entry.path, entry.name)
  const map = JSON.parse(readFileSync(path, 'utf8'))
  if (!Array.isArray(map.sources) || !Array.isArray(map.sourcesContent)) continue
  let changed = false
  map.sources.forEach((source, i) => {
    if (GENERATED.test(source) && map.sourcesContent[i] !== null) {
      map.sourcesContent[i] = null
      changed = true
    }
  })
  if (changed) {
    writeFileSync(path, JSON.stringify(map))
    stripped++
  }
}
console.log(`postbuild: shebang on dist/cli/main.js; generated data dropped from ${stripped} source maps`)
