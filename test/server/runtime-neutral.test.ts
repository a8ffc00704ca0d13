// The fetch handler and httpStore must run without Node: follow their relative imports and check that
// nothing on the way imports a `node:` module (or a Node built-in by its bare name).
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = resolve(import.meta.dirname, '..', '..', 'src')
const BUILTINS = new Set(builtinModules)

function importGraph(entry: string): { files: string[]; nodeImports: string[] } {
  const seen = new Set<string>()
  const nodeImports: string[] = []
  const stack = [entry]
  while (stack.length > 0) {
    const file = stack.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    const text = readFileSync(file, 'utf8')
    for (const match of text.matchAll(
      /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
    )) {
      const specifier = match[1] ?? match[2]!
      if (/^\s*(?:import|export)\s+type\s/.test(match[0])) continue
      if (specifier.startsWith('node:') || BUILTINS.has(specifier))
        nodeImports.push(`${file.slice(SRC.length)} -> ${specifier}`)
      else if (specifier.startsWith('.')) stack.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')))
    }
  }
  return { files: [...seen], nodeImports }
}

describe('runtime neutrality', () => {
  for (const entry of ['server/fetch.ts', 'stores/http.ts', 'stores/http-outbox.ts']) {
    it(`${entry} imports nothing from node:`, () => {
      const { files, nodeImports } = importGraph(join(SRC, entry))
      expect(files.length).toBeGreaterThan(entry === 'stores/http-outbox.ts' ? 0 : 3)
      expect(nodeImports).toEqual([])
    })
  }

  it('the check finds node: imports where they are (the Node server and the file outbox)', () => {
    expect(importGraph(join(SRC, 'server/node.ts')).nodeImports.join()).toMatch(/node:http/)
    expect(importGraph(join(SRC, 'stores/http-outbox-file.ts')).nodeImports.join()).toMatch(/node:fs/)
  })
})
