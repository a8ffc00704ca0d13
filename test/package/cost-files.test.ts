// The cold import of `llm-budget/cost` pays Node's loader once per file (resolve, read, compile, link), so the
// build regroups the cost module's ESM chunks (scripts/group-chunks.mjs, ADR 0090): the entry, the cost chunk (the
// price data included) and the chunk of the error helpers. Needs `npm run build`.
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { staticImportGraph, staticImportSources } from '../../scripts/static-imports.mjs'

const dist = resolve(import.meta.dirname, '../../dist')

describe('llm-budget/cost as ESM', () => {
  it('loads three files: the entry, the cost chunk and the error helpers', () => {
    const files = staticImportGraph(dist, 'cost.js')
    expect(files, files.join(', ')).toHaveLength(3)
    const code = files.map((f) => readFileSync(join(dist, f), 'utf8'))
    // The price data is in the graph once; zod (behind `refresh()` and price files) is not loaded statically.
    expect(code.filter((c) => c.includes('"vertex_ai-zai_models"'))).toHaveLength(1)
    expect(code.some((c) => /from\s*["']zod/.test(c))).toBe(false)
  })

  it('is ASCII only: one other character makes V8 hold and scan a whole file as two-byte text', () => {
    for (const file of staticImportGraph(dist, 'cost.js')) {
      const text = readFileSync(join(dist, file), 'latin1')
      const at = text.search(/[^\t\n\r\x20-\x7e]/)
      expect(at, `${file}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}`).toBe(-1)
    }
  })

  it('the store subpath still loads no price data', () => {
    const code = staticImportSources(dist, 'store.js')
    expect(code.some((c) => c.includes('"vertex_ai-zai_models"'))).toBe(false)
  })
})
