// The cold import of `llm-budget/cost` pays Node's loader once per file (resolve, read, compile, link), so the
// build regroups the cost module's ESM chunks (scripts/group-chunks.mjs, ADR 0090): the entry, the cost chunk (the
// price data included) and the chunk of the error helpers. Needs `npm run build`.
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const dist = resolve(import.meta.dirname, '../../dist')

/** Files loaded by static `import`/`export ... from` (not `import()`), starting from `entry`. */
function staticGraph(entry: string): string[] {
  const seen: string[] = []
  const visit = (file: string): void => {
    if (seen.includes(file)) return
    seen.push(file)
    const code = readFileSync(file, 'utf8')
    for (const m of code.matchAll(/^(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']|^import\s*["'](\.[^"']+)["']/gm))
      visit(resolve(dirname(file), (m[1] ?? m[2])!))
  }
  visit(join(dist, entry))
  return seen.map((f) => relative(dist, f))
}

describe('llm-budget/cost as ESM', () => {
  it('loads three files: the entry, the cost chunk and the error helpers', () => {
    const files = staticGraph('cost.js')
    expect(files, files.join(', ')).toHaveLength(3)
    const code = files.map((f) => readFileSync(join(dist, f), 'utf8'))
    // The price data is in the graph once; zod (behind `refresh()` and price files) is not loaded statically.
    expect(code.filter((c) => c.includes('"vertex_ai-zai_models"'))).toHaveLength(1)
    expect(code.some((c) => /from\s*["']zod/.test(c))).toBe(false)
  })

  it('the store subpath still loads no price data', () => {
    const code = staticGraph('store.js').map((f) => readFileSync(join(dist, f), 'utf8'))
    expect(code.some((c) => c.includes('"vertex_ai-zai_models"'))).toBe(false)
  })
})
