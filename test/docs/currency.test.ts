// The example of docs/currency.md (its first ```ts block, taken from the page as it is) runs and prints what its
// comments say, so the page's numbers are measured, not written by hand.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it, vi } from 'vitest'
import { ROOT, extractSnippets } from '../helpers/snippets.js'

it('docs/currency.md: the example runs and prints what its comments say', async () => {
  const snippet = extractSnippets('docs/currency.md')[0]!
  const source = pathToFileURL(join(ROOT, 'src', 'index.ts')).href
  const dir = join(ROOT, '.tmp', 'currency-doc')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'example.ts'), snippet.code.replace(`from 'llm-budget'`, `from '${source}'`))
  const printed: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    printed.push(args.map(String).join(' '))
  })
  try {
    await import(pathToFileURL(join(dir, 'example.ts')).href)
  } finally {
    log.mockRestore()
  }
  // Each console.log line of the page ends with `// <what it prints>`; the printed text starts with it.
  const promised = snippet.code
    .split('\n')
    .filter((line) => line.startsWith('console.log('))
    .map((line) =>
      line
        .slice(line.indexOf('// ') + 3)
        .split(':')[0]!
        .trim(),
    )
  expect(printed).toHaveLength(promised.length)
  printed.forEach((line, i) => expect(line).toBe(promised[i]))
})
