// The files an ES module loads through static imports: `import ... from './x.js'`, `export ... from './x.js'` and
// `import './x.js'` with a relative specifier, followed from file to file (not `import()`, not packages). Used by the
// cost benchmark (bench/cost.bench.mjs, the size of what `llm-budget/cost` loads) and by the package test that
// counts those files (test/package/cost-files.test.ts), so both read the same graph the same way.
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const STATIC_IMPORT = /^(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']|^import\s*["'](\.[^"']+)["']/gm

/**
 * Files loaded statically from `entry` (a path relative to `directory`), the entry first, each once, as paths
 * relative to `directory`, in the order they are first reached.
 */
export function staticImportGraph(directory, entry) {
  const seen = []
  const queue = [resolve(directory, entry)]
  while (queue.length > 0) {
    const file = queue.shift()
    if (seen.includes(file)) continue
    seen.push(file)
    const code = readFileSync(file, 'utf8')
    for (const m of code.matchAll(STATIC_IMPORT)) queue.push(resolve(dirname(file), m[1] ?? m[2]))
  }
  return seen.map((file) => relative(directory, file))
}

/** The text of each file of {@link staticImportGraph}, in the same order. */
export function staticImportSources(directory, entry) {
  return staticImportGraph(directory, entry).map((file) => readFileSync(join(directory, file), 'utf8'))
}
