// Keeps ARCHITECTURE.md's module map true: each folder of src/ imports (at run time) only the folders it is allowed
// to. `import type` is free (it leaves no trace in the built code), except that nothing may reach into `cli/`.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const src = resolve(import.meta.dirname, '../src')

/** Run-time imports each top-level folder (or root file) of src/ may make, besides itself. */
const ALLOWED: Record<string, string[]> = {
  'errors.ts': ['internal'],
  'index.ts': ['errors.ts', 'cost', 'budget', 'stores'],
  'alerts.ts': ['budget'],
  'reports.ts': ['budget'],
  'store.ts': ['stores'],
  internal: ['errors.ts'],
  cost: ['errors.ts', 'internal'],
  stores: ['errors.ts', 'internal'],
  budget: ['errors.ts', 'internal', 'cost', 'stores'],
  integrations: ['errors.ts', 'internal', 'cost', 'stores', 'budget'],
  observability: ['errors.ts', 'internal', 'cost', 'stores', 'budget'],
  testing: ['errors.ts', 'internal', 'cost', 'stores', 'budget', 'integrations'],
  server: ['errors.ts', 'internal', 'cost', 'stores', 'budget', 'observability'],
  cli: ['errors.ts', 'internal', 'cost', 'stores', 'budget', 'integrations', 'observability', 'server'],
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** The top-level part of src/ a file belongs to: its first folder, or its own name for root files. */
const area = (file: string): string => relative(src, file).split('/')[0]!

/** Relative imports of a file: `{ target, typeOnly }`, including dynamic `import()`. */
function importsOf(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8')
  const found: { target: string; typeOnly: boolean }[] = []
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'/gm)) {
    found.push({ target: m[3]!, typeOnly: m[2] !== undefined })
  }
  for (const m of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)) found.push({ target: m[1]!, typeOnly: false })
  for (const m of text.matchAll(/^\s*import\s+'(\.[^']+)'/gm)) found.push({ target: m[1]!, typeOnly: false })
  return found.map(({ target, typeOnly }) => ({
    target: resolve(dirname(file), target.replace(/\.js$/, '.ts')),
    typeOnly,
  }))
}

describe('module map (ARCHITECTURE.md)', () => {
  const files = sourceFiles(src)

  it('every folder of src/ has a rule', () => {
    const areas = new Set(files.map(area))
    expect([...areas].filter((a) => !(a in ALLOWED))).toEqual([])
  })

  it('imports flow one way', () => {
    const violations: string[] = []
    for (const file of files) {
      const from = area(file)
      for (const { target, typeOnly } of importsOf(file)) {
        const to = area(target)
        if (to === from) continue
        if (to === 'cli' || (!typeOnly && !(ALLOWED[from] ?? []).includes(to))) {
          violations.push(`${relative(src, file)} -> ${relative(src, target)}${typeOnly ? ' (type)' : ''}`)
        }
      }
    }
    expect(violations).toEqual([])
  })

  it('the checker sees imports (negative control)', () => {
    // server/ imports stores/ and budget/; if the parser missed them, the rule above would pass vacuously.
    const serverTargets = files
      .filter((f) => area(f) === 'server')
      .flatMap((f) => importsOf(f).map((i) => area(i.target)))
    expect(serverTargets).toContain('budget')
    expect(serverTargets).toContain('stores')
  })
})

describe('file sizes (one idea per file)', () => {
  const MAX_LINES = 700
  const MAX_MANAGER_LINES = 600
  /** Generated data (scripts/build-prices.mjs, scripts/build-capabilities.mjs), not code anyone reads. */
  const GENERATED = new Set(['cost/data/prices.ts', 'cost/data/capabilities.ts'])
  const lines = (file: string): number => readFileSync(file, 'utf8').split('\n').length - 1

  it(`no source file is over ${MAX_LINES} lines (generated price data aside)`, () => {
    const over: string[] = []
    for (const file of sourceFiles(src)) {
      const name = relative(src, file)
      if (GENERATED.has(name)) continue
      const n = lines(file)
      if (n > MAX_LINES) over.push(`${name}: ${n} lines`)
    }
    expect(over).toEqual([])
  })

  it(`BudgetManager stays a facade: manager.ts is at most ${MAX_MANAGER_LINES} lines`, () => {
    expect(lines(join(src, 'budget/manager.ts'))).toBeLessThanOrEqual(MAX_MANAGER_LINES)
  })

  it('the size check sees the files (negative control)', () => {
    // If the walk missed the files or the count read every file as empty, the checks above would pass vacuously.
    const names = sourceFiles(src).map((f) => relative(src, f))
    expect(names).toContain('budget/manager.ts')
    expect(Math.max(...sourceFiles(src).map(lines))).toBeGreaterThan(MAX_LINES / 2)
  })
})
