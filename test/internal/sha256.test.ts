// The server's synchronous SHA-256 agrees with node:crypto.
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../src/internal/sha256.js'

describe('sha256', () => {
  it('matches node:crypto at block boundaries and for random inputs', () => {
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 70_000]) {
      const s = 'a'.repeat(n)
      expect(sha256Hex(s), `length ${n}`).toBe(createHash('sha256').update(s).digest('hex'))
    }
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        (bytes) => sha256Hex(bytes) === createHash('sha256').update(bytes).digest('hex'),
      ),
      { numRuns: 500 },
    )
    expect(sha256Hex('héllo ✓')).toBe(createHash('sha256').update('héllo ✓').digest('hex'))
  })
})
