// Ledger key encoding: two different ids never share a key (issue 11, finding 5: a short id written literally as
// the `#<hash>` form of a long id used to share that id's budget).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeId, scopePrefix } from '../../src/stores/ledger/keys.js'

/** The inverse of encodeId for ids that were not hashed: proves that part of the encoding loses nothing. */
function decode(encoded: string): string {
  return encoded.replace(/%u([0-9A-F]{4})|%([0-9A-F]{2})/g, (_, wide: string | undefined, narrow: string | undefined) =>
    String.fromCharCode(Number.parseInt(wide ?? narrow!, 16)),
  )
}

const tricky = fc.constantFrom(
  '#',
  '%',
  '%23',
  '%u',
  '|',
  '{',
  '}',
  ' ',
  'a',
  '\uD800',
  '\uDC00',
  '\uD83D\uDE00',
  'é',
  '#0',
  'f',
)
/** Ids built from the characters that matter to the encoding, some long enough to be hashed. */
const adversarial = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 260 }),
  fc.array(tricky, { maxLength: 120 }).map((parts) => parts.join('')),
  fc.string({ unit: fc.constantFrom('a', '|', '#', '%'), minLength: 150, maxLength: 260 }),
)

describe('ledger key encoding', () => {
  it('a short id written as the hashed form of a long id gets its own key', () => {
    const long = 'x'.repeat(250)
    const hashed = encodeId(long)
    expect(hashed.startsWith('#')).toBe(true)
    expect(encodeId(hashed)).not.toBe(hashed)
    expect(scopePrefix({ type: 'endUser', id: hashed })).not.toBe(scopePrefix({ type: 'endUser', id: long }))
  })

  it('ids that differ only in lone surrogates get different keys (a UTF-8 transport cannot merge them)', () => {
    expect(encodeId('a\uD800')).not.toBe(encodeId('a\uD801'))
    expect(encodeId('\uD800'.repeat(80))).not.toBe(encodeId('\uD801'.repeat(80)))
  })

  it('is injective: distinct ids, random and adversarial, never share an encoded form', () => {
    fc.assert(
      fc.property(adversarial, adversarial, (a, b) => {
        fc.pre(a !== b)
        expect(encodeId(a)).not.toBe(encodeId(b))
        // an id written as another id's encoded form (a hash, an escape) never takes that id's key
        if (encodeId(a) !== a) expect(encodeId(encodeId(a))).not.toBe(encodeId(a))
      }),
      { numRuns: 3000 },
    )
  })

  it('an unhashed encoding decodes back to the id, and contains no separator and no #', () => {
    fc.assert(
      fc.property(adversarial, (id) => {
        const encoded = encodeId(id)
        if (encoded.startsWith('#')) {
          expect(encoded).toMatch(/^#[0-9a-f]{64}$/)
          return
        }
        expect(encoded.length).toBeLessThanOrEqual(200)
        expect(encoded).not.toMatch(/[|{} #]/)
        expect(decode(encoded)).toBe(id)
      }),
      { numRuns: 3000 },
    )
  })
})
