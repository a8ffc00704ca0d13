// Tests the package as users get it: the built files behind every `exports` entry exist, the packed tarball
// installs in an empty project, and every subpath imports in ESM and in CommonJS without any optional peer
// dependency installed. Also checks that the cost module's import graph loads no store, server or integration, and
// that the package stays small: at most 3 MB (3,000,000 bytes, decimal megabytes as npm reports them) unpacked, no
// source maps, and the bundled price table exactly once per module format (the CLI shares the library's ESM chunks
// instead of carrying its own copy).
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

interface PackFile {
  path: string
  size: number
}

/** What `npm pack --json` reports of the tarball it wrote. */
interface Packed {
  filename: string
  unpackedSize: number
  files: PackFile[]
}

let dir = ''
let packed: Packed | undefined
/**
 * One `npm pack` (about 2.5 s of CPU) writes the tarball and lists its files and sizes, which the tarball and size
 * tests below read (the size tests ran `npm pack --dry-run` of their own: ADR 0120, amendment 6).
 */
function pack(): Packed {
  if (packed === undefined) {
    dir = mkdtempSync(join(tmpdir(), 'llm-budget-pack-'))
    ;[packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }),
    ) as [Packed]
  }
  return packed
}
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the packed tarball', () => {
  beforeAll(() => {
    const tarball = pack().filename
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--omit=peer', join(dir, tarball)], {
      cwd: dir,
      stdio: 'pipe',
    })
  }, 180_000)

  it('contains the licence, the notice and no tests or sources', () => {
    const names = pack().files.map((f) => f.path)
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

const MAX_UNPACKED_BYTES = 3_000_000

describe('package size', () => {
  it(`is at most ${MAX_UNPACKED_BYTES} bytes unpacked, with no source maps`, () => {
    expect(
      pack()
        .files.filter((f) => f.path.endsWith('.map'))
        .map((f) => f.path),
    ).toEqual([])
    expect(pack().unpackedSize).toBeLessThanOrEqual(MAX_UNPACKED_BYTES)
  })

  it('holds the price table once per format (ESM and CommonJS)', () => {
    // A model key that only the bundled table contains, as it appears in the built data.
    const marker = '"vertex_ai-zai_models"'
    const shipped = pack()
      .files.map((f) => f.path)
      .filter((p) => /^dist\/.*\.(c?js)$/.test(p))
    const withData = shipped.filter((p) => readFileSync(join(root, p), 'utf8').includes(marker))
    expect(withData.filter((p) => p.endsWith('.js'))).toHaveLength(1)
    expect(withData.filter((p) => p.endsWith('.cjs'))).toHaveLength(1)
    expect(readdirSync(join(root, 'dist/cli')).filter((f) => f.endsWith('.js'))).toEqual(['main.js'])
  })
})
