// Tests the package as users get it: the built files behind every `exports` entry exist, the packed tarball
// installs in an empty project, and every subpath imports in ESM and in CommonJS without any optional peer
// dependency installed. Also checks that the cost module's import graph loads no store, server or integration.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string
  exports: Record<
    string,
    string | { import: { types: string; default: string }; require: { types: string; default: string } }
  >
  bin: Record<string, string>
}
const subpaths = Object.entries(pkg.exports).filter(([path]) => path !== './package.json')

describe('package exports', () => {
  it('lists types first and points at built files that exist', () => {
    for (const [path, target] of subpaths) {
      if (typeof target === 'string') throw new Error(`${path}: expected conditions`)
      for (const condition of ['import', 'require'] as const) {
        expect(Object.keys(target[condition])[0], `${path} ${condition}: types first`).toBe('types')
        for (const file of [target[condition].types, target[condition].default]) {
          expect(existsSync(join(root, file)), `${path} -> ${file}`).toBe(true)
        }
      }
    }
    for (const bin of Object.values(pkg.bin)) expect(existsSync(join(root, bin)), bin).toBe(true)
  })

  it('the cost module loads no store, budget, server or integration code (ESM and CommonJS)', () => {
    for (const entry of ['dist/cost.js', 'dist/cost.cjs']) {
      const seen = new Set<string>()
      const visit = (file: string): void => {
        if (seen.has(file)) return
        seen.add(file)
        const source = readFileSync(file, 'utf8')
        for (const match of source.matchAll(/(?:from|import|require\()\s*["'](\.[^"']+)["']/g))
          visit(resolve(dirname(file), match[1]!))
      }
      visit(join(root, entry))
      expect(seen.size, `${entry} loads chunks`).toBeGreaterThan(1)
      const code = [...seen].map((f) => readFileSync(f, 'utf8')).join('\n')
      for (const forbidden of [
        'memoryStore',
        'BudgetManager',
        'createBudgetHandler',
        'redisStore',
        'withOpenAIBudget',
        'node:',
      ]) {
        expect(code.includes(forbidden), `${entry} graph contains ${forbidden}`).toBe(false)
      }
    }
  })

  it('the CommonJS files keep the `// src/...` marker of every library module the ESM files have', () => {
    // Markers make dist/ readable (there are no source maps in the package). Converting the split chunks to
    // CommonJS must not lose them; the CLI is ESM only.
    const markers = (ext: string): Set<string> =>
      new Set(
        readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`))
          .flatMap((f) =>
            [...readFileSync(join(root, 'dist', f), 'utf8').matchAll(/^\/\/ (src\/\S+)/gm)].map((m) => m[1]!),
          ),
      )
    const cjs = markers('.cjs')
    const esm = [...markers('.js')].filter((m) => !m.startsWith('src/cli/'))
    expect(esm.length).toBeGreaterThan(100)
    expect(esm.filter((m) => !cjs.has(m))).toEqual([])
  })
})

describe('the packed tarball', () => {
  let dir = ''
  let packed: { filename: string; files: { path: string }[] } | undefined
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llm-budget-pack-'))
    // One `npm pack` (about 2.5 s of CPU) both writes the tarball and lists its files, which the tests below read.
    ;[packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }),
    ) as [{ filename: string; files: { path: string }[] }]
    const tarball = packed.filename
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=peer', join(dir, tarball)], {
      cwd: dir,
      stdio: 'pipe',
    })
  }, 180_000)
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('contains the licence, the notice and no tests or sources', () => {
    const names = packed!.files.map((f) => f.path)
    expect(names).toContain('LICENSE')
    expect(names).toContain('NOTICE')
    expect(names.some((n) => n.startsWith('test/') || n.startsWith('src/'))).toBe(false)
  })

  it('imports every subpath in ESM and CommonJS with no optional peer installed, with the same names', () => {
    const specifiers = subpaths.map(([path]) => (path === '.' ? pkg.name : `${pkg.name}/${path.slice(2)}`))
    // One Node process per format imports every subpath in turn and reports, per subpath, the names it exports
    // (sorted, comma-separated) or the error its import threw.
    const report = (load: string): string =>
      `const r = {}; for (const s of ${JSON.stringify(specifiers)}) { try { r[s] = Object.keys(${load}).sort().join() }` +
      ` catch (e) { r[s] = { error: String(e instanceof Error ? e.stack : e) } } }; console.log(JSON.stringify(r))`
    const run = (args: string[]): Record<string, string | object> =>
      JSON.parse(execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8' })) as Record<
        string,
        string | object
      >
    const esm = run(['--input-type=module', '-e', report('await import(s)')])
    const cjs = run(['-e', report('require(s)')])
    for (const specifier of specifiers) {
      for (const [format, result] of [
        ['ESM', esm[specifier]],
        ['CJS', cjs[specifier]],
      ] as const) {
        expect(result, `${specifier} (${format}) imports`).toBeTypeOf('string')
        expect(result, `${specifier} (${format}) exports something`).not.toBe('')
      }
      // The CommonJS build is converted from split ESM chunks: it must not lose or add an export.
      expect(cjs[specifier], `${specifier}: CJS exports the same names as ESM`).toBe(esm[specifier])
    }
  })

  it('llm-budget/file exports the file store and the file outbox (there is no /http-outbox-file subpath)', () => {
    expect(Object.keys(pkg.exports)).not.toContain('./http-outbox-file')
    const names = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `console.log(Object.keys(await import('llm-budget/file')).sort().join())`],
      { cwd: dir, encoding: 'utf8' },
    )
    expect(names.trim()).toBe('fileOutbox,fileStore')
  })

  it('installs the llm-budget command', () => {
    const out = execFileSync(join(dir, 'node_modules/.bin/llm-budget'), ['--help'], { encoding: 'utf8' })
    expect(out).toMatch(/llm-budget/)
  })
})
