// The batch script runs each operation's body with its ARGV and KEYS read at an offset (`offsets()` rewrites the
// text): a body in a shape the rewrite does not know must fail when the scripts are built, not read the wrong
// argument at run time.
import { describe, expect, it } from 'vitest'
import { offsets } from '../../src/stores/redis/scripts.js'

describe('offsets (the batch script reads an operation’s arguments at an offset)', () => {
  it('rewrites indexed reads and unpack of ARGV and KEYS (the call record, KEYS[3], is the batch’s KEYS[kc]; ARGV[6], which a batch may leave out, a6)', () => {
    expect(
      offsets('local a = ARGV[6] .. ARGV[a + 1] .. KEYS[3] .. KEYS[3 + i] .. ARGV[ra]\ncall(unpack(ARGV, ra, last))'),
    ).toBe(
      'local a = a6 .. ARGV[o + a + 1] .. KEYS[kc] .. KEYS[ko + 3 + i] .. ARGV[o + ra]\ncall(unpack(ARGV, o + ra, last))',
    )
  })

  it.each([
    ['a common argument', 'local m = ARGV[1]'],
    ['a common key', 'local e = KEYS[2]'],
    ['the argument count', 'for i = 6, #ARGV do end'],
    ['the key list whole', 'for i, k in ipairs(KEYS) do end'],
    ['ARGV given to another function', 'local t = table.concat(ARGV, ",")'],
    ['a spacing it does not know', 'local a = ARGV [6]'],
  ])('refuses %s', (_, body) => {
    expect(() => offsets(body)).toThrow(/offsets: /)
  })
})
