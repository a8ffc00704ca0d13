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
    const errors = typeCheck([
      {
        file: 'docs/x.md',
        line: 10,
        code: "import { BudgetManager } from 'llm-budget'\nconst n: number = new BudgetManager()",
      },
    ])
    expect(errors).toHaveLength(1)
    expect(errors[0]!.where).toBe('docs/x.md:12')
  })

  it('covers the README and every docs page', () => {
    expect(files).toContain('README.md')
    expect(files).toContain('docs/getting-started.md')
    expect(snippets.length).toBeGreaterThan(40)
  })
})

describe('documentation snippets compile against the built package', () => {
  let errors: SnippetError[] | undefined
  const check = (): SnippetError[] => {
    if (!existsSync(join(ROOT, 'dist', 'index.d.ts')))
      throw new Error('dist/ is not built: run `npm run build` first (`npm test` does)')
    errors ??= typeCheck(snippets, examples)
    return errors
  }
  const format = (list: SnippetError[]): string => list.map((e) => `${e.where}: ${e.message}`).join('\n')

  for (const file of [...new Set(snippets.map((s) => s.file)), ...examples]) {
    it(`${file}`, () => {
      const mine = check().filter((e) => e.where.startsWith(`${file}:`))
      expect(format(mine)).toBe('')
    }, 180_000)
  }

  it('has no error outside the listed files', () => {
    const known = new Set([...snippets.map((s) => s.file), ...examples])
    expect(format(check().filter((e) => !known.has(e.where.replace(/:\d+$/, ''))))).toBe('')
  }, 180_000)
})
