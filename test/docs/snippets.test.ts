// Every ```ts block of README.md and docs/**/*.md compiles on its own, with strict tsc, against the built
// package (imports of `llm-budget` and its subpaths resolve through the package's self-reference to dist/),
// as a user who copies it into a strict NodeNext project would see it. The example programs and the type tests
// (test/**/*.test-d.ts, one test here per test of theirs) are checked the same way, in the same program. A new
// Markdown page or type-test file is covered without listing it here.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  ROOT,
  extractSnippets,
  markdownFiles,
  typeCheck,
  typeTestFiles,
  typeTests,
  type SnippetError,
} from '../helpers/snippets.js'

const files = markdownFiles()
const snippets = files.flatMap((file) => extractSnippets(file))
const examples = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `examples/${f}`)
const typeTestFilesFound = typeTestFiles()

/**
 * The negative control: a snippet with one type error, of a page that does not exist. It is checked in the same
 * program as the real snippets (one tsc program instead of two: each loads the package's, Node's and the DOM's
 * declarations), so it also shows that this very program reports errors, at their Markdown lines.
 */
const CONTROL = {
  file: 'docs/x.md',
  line: 10,
  code: "import { BudgetManager } from 'llm-budget'\nconst n: number = new BudgetManager()",
}

let errors: SnippetError[] | undefined
/**
 * The errors of the one program over the control, every snippet, every example and every type test (checked once,
 * on first use).
 */
const check = (): SnippetError[] => {
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts')))
    throw new Error('dist/ is not built: run `npm run build` first (`npm test` does)')
  errors ??= typeCheck([CONTROL, ...snippets], [...examples, ...typeTestFilesFound])
  return errors
}

describe('extracting snippets', () => {
  it('finds ```ts blocks, their lines, and ignores ``` blocks of other languages', () => {
    const text = [
      '# t',
      '```ts',
      'const a: number = 1',
      '```',
      '```sh',
      '```ts',
      'not ts',
      '```',
      '  ```typescript',
      '  const b = 2',
      '  ```',
    ].join('\n')
    expect(extractSnippets('x.md', text)).toEqual([
      { file: 'x.md', line: 2, code: 'const a: number = 1' },
      { file: 'x.md', line: 9, code: 'const b = 2' },
    ])
  })

  it('reports a type error at its line in the Markdown file (negative control)', () => {
    const mine = check().filter((e) => e.where.startsWith(`${CONTROL.file}:`))
    expect(mine).toHaveLength(1)
    expect(mine[0]!.where).toBe('docs/x.md:12')
  }, 180_000)

  it('covers the README and every docs page', () => {
    expect(files).toContain('README.md')
    expect(files).toContain('docs/getting-started.md')
    expect(snippets.length).toBeGreaterThan(40)
  })
})

describe('documentation snippets compile against the built package', () => {
  const format = (list: SnippetError[]): string => list.map((e) => `${e.where}: ${e.message}`).join('\n')

  for (const file of [...new Set(snippets.map((s) => s.file)), ...examples]) {
    it(`${file}`, () => {
      const mine = check().filter((e) => e.where.startsWith(`${file}:`))
      expect(format(mine)).toBe('')
    }, 180_000)
  }

  it('has no error outside the listed files', () => {
    const known = new Set([CONTROL.file, ...snippets.map((s) => s.file), ...examples, ...typeTestFilesFound])
    expect(format(check().filter((e) => !known.has(e.where.replace(/:\d+$/, ''))))).toBe('')
  }, 180_000)
})

/**
 * The type tests, as Vitest's typecheck mode ran them (a test fails on a type error inside its lines), but checked in
 * the program above instead of a tsc pass of their own, which Vitest ran alone after every other file (ADR 0120,
 * amendment 6).
 */
describe('type tests compile against the built package', () => {
  const format = (list: SnippetError[]): string => list.map((e) => `${e.where}: ${e.message}`).join('\n')
  const lineOf = (e: SnippetError): number => Number(/:(\d+)$/.exec(e.where)![1])

  it('finds the type-test files and their tests', () => {
    expect(typeTestFilesFound).toContain('test/types/with-budget.test-d.ts')
    expect(typeTestFilesFound.flatMap((file) => typeTests(file)).length).toBeGreaterThanOrEqual(29)
  })

  it('places a type error in the test whose lines hold it', () => {
    const text = [
      "describe('a', () => {",
      "  it('one', () => {",
      '    const n: number = 1',
      '  })',
      "  it('two', () => 0)",
      '})',
      "test('three', () => {})",
    ].join('\n')
    expect(typeTests('x.test-d.ts', text)).toEqual([
      { names: ['a', 'one'], first: 2, last: 4 },
      { names: ['a', 'two'], first: 5, last: 5 },
      { names: ['three'], first: 7, last: 7 },
    ])
    expect(() => typeTests('x.test-d.ts', "it.skip('s', () => {})")).toThrow(/plain describe\/it/)
  })

  for (const file of typeTestFilesFound) {
    const tests = typeTests(file)
    const mine = (): SnippetError[] => check().filter((e) => e.where.startsWith(`${file}:`))
    describe(file, () => {
      for (const typeTest of tests) {
        it(
          typeTest.names.join(' > '),
          () => {
            expect(format(mine().filter((e) => lineOf(e) >= typeTest.first && lineOf(e) <= typeTest.last))).toBe('')
          },
          180_000,
        )
      }
      it('has no error outside its tests', () => {
        expect(tests.length).toBeGreaterThan(0)
        const inside = (e: SnippetError): boolean => tests.some((t) => lineOf(e) >= t.first && lineOf(e) <= t.last)
        expect(format(mine().filter((e) => !inside(e)))).toBe('')
      }, 180_000)
    })
  }
})
