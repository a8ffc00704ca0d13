// Every relative link of README.md, CONTRIBUTING.md and docs/**/*.md points at a file or folder that exists,
// so a page that moves or is renamed cannot leave a dead link behind.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, markdownFiles } from '../helpers/snippets.js'

/** Relative link targets of a Markdown text (`[text](target)`), outside code blocks, without `#anchors`. */
export function relativeLinks(text: string): string[] {
  const prose = text.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, '').replace(/`[^`\n]*`/g, '')
  const links: string[] = []
  for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1]!.split('#')[0]!
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    links.push(target)
  }
  return links
}

describe('relative links in the docs', () => {
  it('reads links, not code (negative control)', () => {
    expect(relativeLinks('see [a](docs/a.md#x), [b](https://x.y) and `[c](no.md)`\n```ts\n[d](no2.md)\n```\n')).toEqual(
      ['docs/a.md'],
    )
    expect(relativeLinks(readFileSync(join(ROOT, 'README.md'), 'utf8')).length).toBeGreaterThan(10)
  })

  for (const file of markdownFiles()) {
    it(file, () => {
      const dead = relativeLinks(readFileSync(join(ROOT, file), 'utf8')).filter(
        (target) => !existsSync(join(ROOT, dirname(file), decodeURIComponent(target))),
      )
      expect(dead).toEqual([])
    })
  }
})
