import { describe, expect, it } from 'vitest'
import type { Scope } from '../../src/budget/scopes.js'
import { trackedKey, trackedKeys } from '../../src/budget/tracked-spend.js'
import { ledgerKey, scopePrefix } from '../../src/stores/ledger/keys.js'

// trackedKey keeps the keys it built (by scope type and id, at most 10,000, then it starts over): every answer must be
// the key built afresh, before and after the kept keys are dropped (12,000 scopes a round go past the bound).
describe('trackedKey', () => {
  it('answers the all-time key of each scope, built or kept, past the bound of kept keys', () => {
    const types = ['user', 'team', 'org', 'key', 'tag'] as const
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 12_000; i++) {
        const type = types[i % types.length]!
        const scope: Scope = { type, id: i % 7 === 0 ? `id|${i} %x` : `id-${i}` }
        expect(trackedKey(scope)).toBe(ledgerKey(scopePrefix(scope), 'all', 'usd'))
      }
    }
    expect(trackedKey({ type: 'user', id: 'same' })).not.toBe(trackedKey({ type: 'team', id: 'same' }))
    expect(
      trackedKeys([
        { type: 'global', id: 'global' },
        { type: 'user', id: 'a|b' },
      ]),
    ).toEqual(['u:a%7Cb|all|usd'])
  })
})
