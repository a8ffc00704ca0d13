// Runs of alike reservations and commits in one Redis batch (ADR 0055, ninth round: repeats answered short, runs kept
// as sums) against memoryStore, operation by operation: a differential fuzz (per-key limits, null limits, zero amounts,
// spent seeded differently per key, interleaved kinds, a call id repeated inside a run, releases, holds expiring and
// windows ending between operations) and the review's examples, each of which failed on the round's first version.
import fc from 'fast-check'
import { createClient } from 'redis'
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { comparable, redisHolds, T0 } from '../helpers/ledger-model.js'
import { redisForSuite } from '../helpers/shared-stores.js'

const suite = redisForSuite()
/** A Redis store on `client` under `prefix`, on the client's clock (the examples set `now`), holds kept an hour. */
const storeOn = (client: Parameters<typeof redisStore>[0]['client'], prefix: string): BudgetStore =>
  redisStore({ client, prefix, time: 'client', expiryMarginMs: 3_600_000 })

const KEYS = ['a', 'b', 'c', 'd']
const SETS = [
  ['a', 'b'],
  ['a', 'b', 'c'],
  ['b', 'c'],
  ['c', 'd', 'a'],
  ['b', 'a'],
]

type Op =
  | {
      kind: 'reserve'
      call: string
      keys: string[]
      amount: number
      limits: Array<number | null>
      ttl: number
      exp: number | null
    }
  | {
      kind: 'commit'
      call: string
      keys: string[]
      amount: number
      exp: number | null
      record: string | null
      dedupe: number
    }
  | { kind: 'release'; call: string }

async function apply(store: BudgetStore, o: Op, now: number): Promise<unknown> {
  try {
    if (o.kind === 'reserve')
      return await store.reserve({
        callId: o.call,
        now,
        holdExpiresAt: now + o.ttl,
        entries: o.keys.map((key, i) => ({
          key,
          amount: o.amount,
          limit: o.limits[i]!,
          expiresAt: o.exp === null ? null : T0 + o.exp,
        })),
      })
    if (o.kind === 'commit')
      return await store.commit({
        callId: o.call,
        now,
        dedupeUntil: now + o.dedupe,
        entries: o.keys.map((key) => ({ key, amount: o.amount, expiresAt: o.exp === null ? null : T0 + o.exp })),
        ...(o.record === null
          ? {}
          : {
              record: {
                callId: o.call,
                startedAt: now - 10,
                endedAt: now,
                model: o.record,
                costNanoUsd: o.amount,
                usage: { inputTokens: 1, outputTokens: 2 },
                savedNanoUsd: 3,
                estimated: false,
                user: 'u',
              },
            }),
      })
    return await store.release({ callId: o.call, now })
  } catch (e) {
    return { error: (e as Error).name }
  }
}

const lim = fc.constantFrom<'none' | 'tight' | 'tight0' | 'big' | 'low'>(
  'none',
  'tight',
  'tight',
  'tight0',
  'big',
  'low',
)
const step = fc.oneof(
  fc.record({
    kind: fc.constant('rrun' as const),
    set: fc.nat(SETS.length - 1),
    lims: fc.array(lim, { minLength: 3, maxLength: 3 }),
    amount: fc.constantFrom(0, 5, 100, 100, 2 ** 50 + 1),
    vary: fc.constantFrom(0, 0, 1, 3),
    n: fc.integer({ min: 1, max: 12 }),
    ttl: fc.constantFrom(2_000, 4_000, 15_000),
    exp: fc.constantFrom<number | null>(null, 5_000, 60_000),
    dup: fc.constantFrom(-1, -1, 0, 2),
    gap: fc.constantFrom(0, 0, 0, 1, 2_500),
  }),
  fc.record({
    kind: fc.constant('crun' as const),
    back: fc.nat(3),
    amount: fc.constantFrom(0, 1, 50, 100, 2 ** 50 + 3),
    rev: fc.constantFrom(false, false, true),
    alt: fc.constantFrom(false, false, true),
    vary: fc.constantFrom(0, 0, 1),
    record: fc.constantFrom<string | null>(null, 'm1', 'm1'),
    dup: fc.constantFrom(-1, -1, 0, 1),
    skip: fc.constantFrom(0, 0, 1),
    exp: fc.constantFrom<number | null>(null, 5_000, 60_000),
    gap: fc.constantFrom(0, 0, 0, 1, 2_500),
  }),
  fc.record({
    kind: fc.constant('seed' as const),
    key: fc.constantFrom(...KEYS),
    amount: fc.constantFrom(10, 300, 2 ** 51),
  }),
  fc.record({ kind: fc.constant('rel' as const), back: fc.nat(3), idx: fc.nat(5) }),
  fc.record({ kind: fc.constant('batch' as const) }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(1, 5_000) }),
)

let run = 0
describe('runs of alike operations in one batch', () => {
  it('answer, hold and record as memoryStore does, operation by operation', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
        const prefix = `runs-${process.pid}-${run++}`
        const redis = storeOn(suite.io, prefix)
        const memory = memoryStore()
        let now = T0
        let id = 0
        const runs: Array<{ calls: string[]; keys: string[]; exp: number | null }> = []
        // a batch: ops whose terms are computed lazily from memory's state at the start of the batch
        let batch: Array<[Op, number]> = []
        let g = 0
        const flush = async () => {
          if (batch.length === 0) return
          const got = await Promise.all(batch.map(([o, t]) => apply(redis, o, t)))
          const want: unknown[] = []
          for (const [o, t] of batch) want.push(await apply(memory, o, t))
          // A reservation over its limit whose total would also pass 2^53 - 1: memoryStore refuses it, Redis answers
          // InvalidInputError (overflow); both fail closed, an older difference of the two models, compared as Redis answers.
          const norm = want.map((w, j) => {
            const o = batch[j]![0]
            const r = w as {
              ok?: boolean
              refusedIndex?: number
              balances?: Array<{ spent: number; reserved: number }>
            }
            if (o.kind !== 'reserve' || r?.ok !== false || r.refusedIndex === undefined) return w
            const b = r.balances![r.refusedIndex]!
            return b.spent + b.reserved + o.amount > Number.MAX_SAFE_INTEGER ? { error: 'InvalidInputError' } : w
          })
          expect({ g, ops: batch, results: got.map(comparable) }).toEqual({
            g,
            ops: batch,
            results: norm.map(comparable),
          })
          const q = { keys: KEYS, now }
          expect({ g, b: await redis.balances(q) }).toEqual({ g, b: await memory.balances(q) })
          batch = []
          g++
        }
        for (const s of steps) {
          if (s.kind === 'batch') {
            await flush()
            continue
          }
          if (s.kind === 'wait') {
            await flush()
            now += s.ms
            continue
          }
          if (s.kind === 'seed') {
            await flush()
            const o: Op = {
              kind: 'commit',
              call: `s${id++}`,
              keys: [s.key],
              amount: s.amount,
              exp: 60_000,
              record: null,
              dedupe: 0,
            }
            expect(await apply(redis, o, now)).toEqual(await apply(memory, o, now))
            continue
          }
          if (s.kind === 'rrun') {
            const keys = SETS[s.set]!
            const bal = await memory.balances({ keys, now: batch.length > 0 ? batch[0]![1] : now })
            const limits = keys.map((_, i) => {
              const l = s.lims[i]!
              const t = bal[i]!.spent + bal[i]!.reserved
              if (l === 'none') return null
              if (l === 'big') return 2 ** 52
              if (l === 'low') return 50
              if (l === 'tight0') return t
              return t + Math.floor(2.5 * s.amount) + 3 + i
            })
            const calls: string[] = []
            for (let j = 0; j < s.n; j++) {
              const call = j === s.dup && calls.length > 0 ? calls[0]! : `c${id++}`
              calls.push(call)
              batch.push([
                { kind: 'reserve', call, keys, amount: s.amount + j * s.vary, limits, ttl: s.ttl, exp: s.exp },
                (now += s.gap),
              ])
            }
            runs.push({ calls, keys, exp: s.exp })
            continue
          }
          const r = runs[runs.length - 1 - (s.back % Math.max(runs.length, 1))]
          if (!r) continue
          if (s.kind === 'rel') {
            batch.push([{ kind: 'release', call: r.calls[s.idx % r.calls.length]! }, now])
            continue
          }
          const calls = r.calls.filter((_, j) => s.skip === 0 || j % 2 === 0)
          for (let j = 0; j < calls.length; j++) {
            const call = j === s.dup && j > 0 ? calls[0]! : calls[j]!
            batch.push([
              {
                kind: 'commit',
                call,
                keys: s.rev ? [...r.keys].reverse() : r.keys,
                amount: s.amount + j * s.vary,
                exp: r.exp,
                record: s.alt && j % 3 === 2 ? 'm2' : s.record,
                dedupe: 30_000,
              },
              (now += s.gap),
            ])
          }
        }
        await flush()
        for (const key of KEYS) {
          const { reserved } = await redisHolds(suite.io, prefix, key, now)
          const [b] = await memory.balances({ keys: [key], now })
          expect({ key, reserved }).toEqual({ key, reserved: b!.reserved })
        }
        expect(await redis.queryRecords({})).toEqual(await memory.queryRecords({}))
        expect((await redis.queryRollups!({})).rows).toEqual((await memory.queryRollups!({})).rows)
        await redis.close()
      }),
      { numRuns: 300 },
    )
  }, 600_000)
})

const END = T0 + 60_000
const reserveAB = (s: BudgetStore, call: string, now: number) =>
  s.reserve({
    callId: call,
    now,
    holdExpiresAt: now + 120_000,
    entries: ['a', 'b'].map((key) => ({ key, amount: 100, limit: 1_000, expiresAt: END })),
  })
const commitAB = (s: BudgetStore, call: string, now: number) =>
  s.commit({
    callId: call,
    now,
    dedupeUntil: now + 30_000,
    entries: ['a', 'b'].map((key) => ({ key, amount: 90, expiresAt: END })),
    record: {
      callId: call,
      startedAt: now - 10,
      endedAt: now,
      model: 'm1',
      costNanoUsd: 90,
      usage: { inputTokens: 1, outputTokens: 1 },
      savedNanoUsd: 0,
      estimated: false,
      user: 'u',
    },
  })

describe("commits after their keys' window ended (review of the ninth round)", () => {
  it('commits of calls reserved before the window end, in one batch after it', async () => {
    const redis = storeOn(suite.io, `runs-window-${process.pid}`)
    const memory = memoryStore()
    const calls = ['c1', 'c2', 'c3', 'c4', 'c5']
    // reserved in the window (one bucket), committed 1 s after its end, in one batch, same now
    const got1 = await Promise.all(calls.map((c) => reserveAB(redis, c, END - 5_000)))
    for (const c of calls) await reserveAB(memory, c, END - 5_000)
    expect(got1.every((r) => r.ok)).toBe(true)
    const got = await Promise.all(
      calls.slice(0, 4).map((c) => commitAB(redis, c, END + 1_000).catch((e: Error) => e.message)),
    )
    const want: unknown[] = []
    for (const c of calls.slice(0, 4)) want.push(await commitAB(memory, c, END + 1_000))
    expect(got).toEqual(want)
    await redis.close()
  })
})

async function heldScenario(redis: BudgetStore, big: number) {
  const memory = memoryStore()
  const out: unknown[] = []
  const go = async (f: (s: BudgetStore) => Promise<unknown>[]) => {
    let got: unknown[]
    try {
      got = await Promise.all(f(redis))
    } catch (e) {
      got = [{ error: String(e) }]
    }
    const want: unknown[] = []
    for (const p of f(memory)) want.push(await p)
    out.push({ got, want })
  }
  const rec = (call: string) => ({
    callId: call,
    startedAt: T0 - 10,
    endedAt: T0,
    model: 'm1',
    costNanoUsd: 1,
    usage: { inputTokens: 1, outputTokens: 1 },
    savedNanoUsd: 0,
    estimated: false,
    user: 'u',
  })
  const res = (s: BudgetStore, call: string, amount: number, keys: string[]) =>
    s.reserve({
      callId: call,
      now: T0,
      holdExpiresAt: T0 + 15_000,
      entries: keys.map((key) => ({ key, amount, limit: null, expiresAt: T0 + 60_000 })),
    })
  const com = (s: BudgetStore, call: string, amount: number, keys: string[]) =>
    s.commit({
      callId: call,
      now: T0,
      dedupeUntil: T0 + 30_000,
      entries: keys.map((key) => ({ key, amount, expiresAt: T0 + 60_000 })),
      record: rec(call),
    })
  // w makes the rollup rows (on other keys); z1, big, z2 hold in one bucket of a and b (z1, z2: 0)
  await go((s) => [res(s, 'w', 1, ['c', 'd'])])
  await go((s) => [com(s, 'w', 1, ['c', 'd'])])
  await go((s) => [res(s, 'z1', 0, ['a', 'b']), res(s, 'big', big, ['a', 'b']), res(s, 'z2', 0, ['a', 'b'])])
  // z1 commits the whole way (the bucket keeps 2), big repeats it: '=' and held = big
  await go((s) => [com(s, 'z1', 1, ['a', 'b']), com(s, 'big', 1, ['a', 'b'])])
  out.push({
    got: await redis.balances({ keys: ['a', 'b'], now: T0 }),
    want: await memory.balances({ keys: ['a', 'b'], now: T0 }),
  })
  return out
}

describe("a commit run's held amount near 2^53 - 1 (review of the ninth round)", () => {
  for (const big of [Number.MAX_SAFE_INTEGER - 10, Number.MAX_SAFE_INTEGER - 8, Number.MAX_SAFE_INTEGER]) {
    it(`ioredis, held ${big}`, async () => {
      const redis = storeOn(suite.io, `runs-held-${big}-${process.pid}`)
      const out = await heldScenario(redis, big)
      expect.soft(out.at(-1)).toMatchObject({ got: (out.at(-1) as { want: unknown }).want })
      for (const o of out as Array<{ got: unknown; want: unknown }>) expect.soft(o.got).toEqual(o.want)
      await redis.close()
    })
    it(`node-redis, held ${big}`, async () => {
      const client = createClient({ socket: { port: suite.server.port, host: '127.0.0.1' } })
      await client.connect()
      const redis = storeOn(client, `runs-heldn-${big}-${process.pid}`)
      const out = await heldScenario(redis, big)
      expect.soft(out.at(-1)).toMatchObject({ got: (out.at(-1) as { want: unknown }).want })
      for (const o of out as Array<{ got: unknown; want: unknown }>) expect.soft(o.got).toEqual(o.want)
      await redis.close()
      await client.quit()
    })
  }
})

const reserveNoLimit = (s: BudgetStore, call: string, amount: number, now: number, ttl: number) =>
  s.reserve({
    callId: call,
    now,
    holdExpiresAt: now + ttl,
    entries: ['a', 'b'].map((key) => ({ key, amount, limit: null, expiresAt: null })),
  })

describe('holds expiring inside a batch of alike reservations (review of the ninth round)', () => {
  it('hold expiring inside a batch', async () => {
    const redis = storeOn(suite.io, `runs-expiry-${process.pid}`)
    const memory = memoryStore()
    const plan: Array<Array<[string, number, number, number]>> = [
      [['c0', 2 ** 50 + 1, T0, 15_000]],
      [
        ['c1', 0, T0 + 7_500, 2_000],
        ['c2', 0, T0 + 10_000, 2_000],
        ['c3', 0, T0 + 12_500, 2_000],
        ['c4', 0, T0 + 15_000, 2_000],
        ['c5', 0, T0 + 15_000, 2_000],
      ],
    ]
    for (const batch of plan) {
      const got = await Promise.all(batch.map(([c, a, n, t]) => reserveNoLimit(redis, c, a, n, t)))
      const want: unknown[] = []
      for (const [c, a, n, t] of batch) want.push(await reserveNoLimit(memory, c, a, n, t))
      expect(got).toEqual(want)
      const q = { keys: ['a', 'b', 'c', 'd'], now: batch[batch.length - 1]![2] }
      expect(await redis.balances(q)).toEqual(await memory.balances(q))
    }
    await redis.close()
  })
})
