// The published package stays small: at most 3 MB (3,000,000 bytes, decimal megabytes as npm reports them) unpacked,
// no source maps, and the bundled price table exactly once per module format (the CLI shares the library's ESM
// chunks instead of carrying its own copy).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const MAX_UNPACKED_BYTES = 3_000_000

interface PackFile {
  path: string
  size: number
}

describe('package size', () => {
  const [pack] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
  ) as [{ unpackedSize: number; files: PackFile[] }]

  it(`is at most ${MAX_UNPACKED_BYTES} bytes unpacked, with no source maps`, () => {
    expect(pack.files.filter((f) => f.path.endsWith('.map')).map((f) => f.path)).toEqual([])
    expect(pack.unpackedSize).toBeLessThanOrEqual(MAX_UNPACKED_BYTES)
  })

  it('holds the price table once per format (ESM and CommonJS)', () => {
    // A model key that only the bundled table contains, as it appears in the built data.
    const marker = '"vertex_ai-zai_models"'
    const shipped = pack.files.map((f) => f.path).filter((p) => /^dist\/.*\.(c?js)$/.test(p))
    const withData = shipped.filter((p) => readFileSync(join(root, p), 'utf8').includes(marker))
    expect(withData.filter((p) => p.endsWith('.js'))).toHaveLength(1)
    expect(withData.filter((p) => p.endsWith('.cjs'))).toHaveLength(1)
    expect(readdirSync(join(root, 'dist/cli')).filter((f) => f.endsWith('.js'))).toEqual(['main.js'])
  })
})
