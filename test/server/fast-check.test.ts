// The server's fast acceptance checks for reserve and commit bodies must never accept a body that zod would
// refuse or change: whenever `isPlainReserve`/`isPlainCommit` says yes, zod accepts the body and returns it with
// the same keys, in the same order, with the same values. And they must say yes for what clients really send,
// or the fast path is never taken.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isPlainCommit, isPlainReserve } from '../../src/server/fast-check.js'
import { commitSchema, reserveSchema } from '../../src/server/schemas.js'

const T0 = 1_800_000_000_000

const reserve = (): Record<string, unknown> => ({
  callId: 'c1',
  now: T0,
  holdExpiresAt: T0 + 60_000,
  entries: [
    { key: 'user:u1|d|usd', amount: 10_000_000, limit: 1e15, expiresAt: null },
    { key: 'org:o1|d|usd', amount: 10_000_000, limit: null, expiresAt: T0 + 86_400_000 },
  ],
})

// A record as the manager builds it: shape keys first, then nested JSON (context, tags, metadata).
const commit = (): Record<string, unknown> => ({
  callId: 'c1',
  now: T0 + 1,
  entries: [{ key: 'user:u1|d|usd', amount: 9_000_000, expiresAt: null }],
  dedupeUntil: T0 + 86_400_000,
  record: {
    callId: 'c1',
    startedAt: T0,
    endedAt: T0 + 1,
    model: 'gpt-4o-mini',
    provider: null,
    costNanoUsd: 9_000_000,
    estimated: false,
    context: { user: 'u1', tags: ['a', 'b'] },
    metadata: { nested: { deep: [1, 2.5, -0, true, null, 'x'] } },
  },
})

/** JSON as sent on the wire, parsed again: what the route sees. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

/** zod's verdict and output as JSON text (keys in order), or null when zod refuses. */
function zodJson(schema: typeof reserveSchema | typeof commitSchema, body: unknown): string | null {
  const result = schema.safeParse(body)
  return result.success ? JSON.stringify(result.data) : null
}

describe('fast acceptance of reserve and commit bodies', () => {
  it('accepts the bodies httpStore and the manager send, exactly as zod returns them', () => {
    for (const body of [reserve(), { ...reserve(), entries: [(reserve().entries as unknown[])[0]] }]) {
      expect(isPlainReserve(wire(body))).toBe(true)
      expect(zodJson(reserveSchema, wire(body))).toBe(JSON.stringify(body))
    }
    const { record: _record, ...withoutRecord } = commit()
    for (const body of [commit(), withoutRecord, { ...withoutRecord, entries: [] }]) {
      expect(isPlainCommit(wire(body))).toBe(true)
      expect(zodJson(commitSchema, wire(body))).toBe(JSON.stringify(body))
    }
  })

  it('leaves to zod every body zod would refuse or change', () => {
    const changed: [string, (body: Record<string, unknown>) => void][] = [
      ['an extra key', (b) => (b.extra = 1)],
      [
        'keys in another order',
        (b) => {
          // callId moved to the end.
          const callId = b.callId
          Reflect.deleteProperty(b, 'callId')
          b.callId = callId
        },
      ],
      ['a fractional amount', (b) => ((b.entries as { amount: number }[])[0]!.amount = 1.5)],
      ['a negative amount', (b) => ((b.entries as { amount: number }[])[0]!.amount = -1)],
      ['an unsafe integer', (b) => ((b.entries as { amount: number }[])[0]!.amount = 2 ** 53)],
      ['an empty call id', (b) => (b.callId = '')],
      ['a call id over 1024 characters', (b) => (b.callId = 'x'.repeat(1025))],
      ['a string time', (b) => (b.now = String(T0))],
      ['entries that are not an array', (b) => (b.entries = {})],
      ['an entry with an extra key', (b) => ((b.entries as Record<string, unknown>[])[0]!.extra = 1)],
      ['an entry that is null', (b) => ((b.entries as unknown[])[0] = null)],
      ['too many entries', (b) => (b.entries = Array.from({ length: 257 }, () => (b.entries as unknown[])[0]))],
    ]
    for (const [what, change] of changed) {
      const r = wire(reserve()) as Record<string, unknown>
      change(r)
      expect(isPlainReserve(r), what).toBe(false)
      const c = wire(commit()) as Record<string, unknown>
      change(c)
      expect(isPlainCommit(c), what).toBe(false)
    }
    expect(isPlainReserve(wire({ ...reserve(), entries: [] }))).toBe(false)
    // zod drops `__proto__` keys (at any depth of the record): such bodies are not returned unchanged.
    for (const text of [
      JSON.stringify(commit()).replace('"model"', '"__proto__":{"x":1},"model"'),
      JSON.stringify(commit()).replace('"nested"', '"__proto__":{"x":1},"nested"'),
      JSON.stringify(reserve()).replace('"callId"', '"__proto__":{},"callId"'),
    ]) {
      const body = JSON.parse(text) as unknown
      expect(isPlainCommit(body) || isPlainReserve(body), text).toBe(false)
    }
    // The record's shape keys must come first, as in zod's output.
    const record = commit().record as Record<string, unknown>
    const { callId: _c, ...others } = record
    expect(isPlainCommit(wire({ ...commit(), record: { ...others, callId: 'c1' } }))).toBe(false)
    expect(isPlainCommit(wire({ ...commit(), record: null }))).toBe(false)
    expect(isPlainCommit(wire({ ...commit(), record: { ...record, callId: 1 } }))).toBe(false)
  })

  it('never says yes to a body zod refuses or changes (fuzzed)', () => {
    // Random JSON put anywhere in a valid body (a field replaced, added or removed).
    const paths = (value: unknown, prefix: (string | number)[] = []): (string | number)[][] => {
      if (typeof value !== 'object' || value === null) return [prefix]
      const out: (string | number)[][] = [prefix]
      for (const [k, v] of Object.entries(value))
        out.push(...paths(v, [...prefix, Array.isArray(value) ? Number(k) : k]))
      return out
    }
    const mutate = (base: unknown, pick: number, replacement: unknown, mode: number, name: string): unknown => {
      const body = wire(base) as Record<string, unknown>
      const all = paths(body)
      const path = all[pick % all.length]!
      if (path.length === 0) return mode === 0 ? replacement : body
      let parent = body as Record<string | number, unknown>
      for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>
      const last = path[path.length - 1]!
      if (mode === 0) parent[last] = replacement
      else if (mode === 1) Reflect.deleteProperty(parent, last)
      else if (typeof parent === 'object' && !Array.isArray(parent)) parent[name] = replacement
      return JSON.parse(JSON.stringify(body)) as unknown
    }
    fc.assert(
      fc.property(
        fc.nat(),
        fc.jsonValue({ maxDepth: 3 }),
        fc.nat({ max: 2 }),
        fc.oneof(
          fc.constantFrom('callId', 'now', 'key', 'amount', 'limit', 'record', 'extra', '__proto__'),
          fc.string(),
        ),
        (pick, replacement, mode, name) => {
          for (const [base, check, schema] of [
            [reserve(), isPlainReserve, reserveSchema],
            [commit(), isPlainCommit, commitSchema],
          ] as const) {
            const body = mutate(base, pick, replacement, mode, name)
            if (check(body)) expect(zodJson(schema, body)).toBe(JSON.stringify(body))
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})
