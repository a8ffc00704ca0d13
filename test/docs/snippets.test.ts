// Every ```ts block of README.md and docs/**/*.md compiles on its own, with strict tsc, against the built
// package (imports of `llm-budget` and its subpaths resolve through the package's self-reference to dist/),
// as a user who copies it into a strict NodeNext project would see it. The example programs are checked the
// same way. A new Markdown page is covered without listing it here.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, extractSnippets, markdownFiles, typeCheck, type SnippetError } from '../helpers/snippets.js'

const files = markdownFiles()
const snippets = files.flatMap((file) => extractSnippets(file))
const examples = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `examples/${f}`)

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
/** The errors of the one program over the control, every snippet and every example (checked once, on first use). */
const check = (): SnippetError[] => {
  if (!existsSync(join(ROOT, 'dist', 'index.d.ts')))
    throw new Error('dist/ is not built: run `npm run build` first (`npm test` does)')
  errors ??= typeCheck([CONTROL, ...snippets], examples)
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
    const known = new Set([CONTROL.file, ...snippets.map((s) => s.file), ...examples])
    expect(format(check().filter((e) => !known.has(e.where.replace(/:\d+$/, ''))))).toBe('')
  }, 180_000)
})
