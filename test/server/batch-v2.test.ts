// The version 2 batch wire format (`POST /v2/batch`, positional operations) on a real server on 127.0.0.1, and the
// versions meeting: an old client's /v1/batch on this server, this client on a server with only /v1/batch, an
// answer in another version's shape, a body of the other version, a version this server does not speak.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bodyAtV2 } from '../../src/server/batch.js'
import { createBudgetHandler } from '../../src/server/index.js'
import { httpStore } from '../../src/stores/http.js'
import { encodeOperation } from '../../src/stores/http/wire.js'
import { memoryStore } from '../../src/stores/memory.js'
import { memoryServerForSuite, post } from './serve.js'

const TOKEN = 'batch2-token-0123456789abcdef'
const T0 = 1_800_000_000_000
const DAY = 86_400_000

const suite = memoryServerForSuite(TOKEN, 'bt2')

const reserve = (callId: string, key: string, amount: number, limit: number | null = 10) => ({
  callId,
  now: T0,
  holdExpiresAt: T0 + 60_000,
  entries: [{ key, amount, limit, expiresAt: null }],
})
const commit = (callId: string, key: string, amount: number) => ({
  callId,
  now: T0 + 1,
  entries: [{ key, amount, expiresAt: null }],
  dedupeUntil: T0 + DAY,
  record: { callId, startedAt: T0, endedAt: T0 + 1, model: 'm', costNanoUsd: amount },
})
/** The version 2 text of one operation, as httpStore writes it. */
const op = (path: string, key: string | null, payload: unknown) =>
  JSON.parse(encodeOperation(path, key, payload, JSON.stringify(payload))) as unknown[]
const balances = async (keys: string[]) =>
  (await post(`${suite.running.url}/v1/balances`, TOKEN, { keys, now: T0 })).body.balances as unknown[]

/**
 * A fetch to a budget handler of its own (on a memory store, tenant `tenant`) whose requests `answer` may answer
 * instead, by path (null: the handler does): a server of another version, or a proxy in front of one.
 */
function serverWhere(
  tenant: string,
  answer: (path: string, init: RequestInit | undefined) => Response | null,
): typeof fetch {
  const handler = createBudgetHandler({ store: memoryStore(), auth: { tokens: { [TOKEN]: tenant } } })
  return (async (input: string | URL | Request, init?: RequestInit) =>
    answer(new URL(String(input)).pathname, init) ?? handler(new Request(input, init))) as typeof fetch
}

describe('POST /v2/batch', () => {
  it('applies positional reserves and commits and [path, key, body] operations in order, each answered as alone', async () => {
    const reserveOp = op('/v1/reserve', 'v2-a', reserve('v2-1', 'v2|usd', 6))
    expect(reserveOp).toEqual(['r', 'v2-a', 'v2-1', T0, T0 + 60_000, 'v2|usd', 6, 10, null])
    const commitOp = op('/v1/commit', null, commit('v2-1', 'v2|usd', 5))
    expect(commitOp[0]).toBe('c')
    const answer = await post(`${suite.running.url}/v2/batch`, TOKEN, {
      ops: [
        reserveOp,
        op('/v1/reserve', null, reserve('v2-2', 'v2|usd', 6)), // over the limit after v2-1
        commitOp,
        op('/v1/balances', 'v2-b', { keys: ['v2|usd'], now: T0 }),
      ],
    })
    expect(answer.status).toBe(200)
    expect(answer.body.v).toBe(2)
    const results = answer.body.results as [number, any, string?][]
    expect(results.map((r) => r[0])).toEqual([200, 200, 200, 200])
    expect(results[0]![1]).toMatchObject({ ok: true })
    expect(results[1]![1]).toMatchObject({ ok: false, refusedIndex: 0 })
    expect(results[2]![1]).toMatchObject({ duplicate: false })
    expect(results[3]![1].balances).toEqual([{ spent: 5, reserved: 0 }])
    // The record travelled whole.
    const records = await suite.backing.queryRecords({})
    expect(records.find((r) => r.callId.endsWith('v2-1'))).toMatchObject({ model: 'm', costNanoUsd: 5 })
  })

  it('fingerprints a positional operation as the request object it stands for: replays across versions and alone, 422 for another body', async () => {
    const body = reserve('fp2', 'fp2|usd', 3)
    const first = await post(`${suite.running.url}/v2/batch`, TOKEN, { ops: [op('/v1/reserve', 'fp2-key', body)] })
    expect(first.body.results[0][0]).toBe(200)
    // Alone, with the same key and the same request: the first answer, not a second reserve.
    const alone = await post(`${suite.running.url}/v1/reserve`, TOKEN, body, { 'idempotency-key': 'fp2-key' })
    expect(alone.headers.get('idempotent-replayed')).toBe('true')
    expect(alone.body).toEqual(first.body.results[0][1])
    // In a version 1 batch, and again in a version 2 one.
    const v1 = await post(`${suite.running.url}/v1/batch`, TOKEN, {
      operations: [{ path: '/v1/reserve', key: 'fp2-key', body }],
    })
    expect(v1.body.results[0].body).toEqual(first.body.results[0][1])
    const again = await post(`${suite.running.url}/v2/batch`, TOKEN, { ops: [op('/v1/reserve', 'fp2-key', body)] })
    expect(again.body.results[0]).toEqual(first.body.results[0])
    // Another body with the same key: refused, whichever way it comes.
    const other = await post(`${suite.running.url}/v2/batch`, TOKEN, {
      ops: [op('/v1/reserve', 'fp2-key', reserve('fp2', 'fp2|usd', 4))],
    })
    expect(other.body.results[0][0]).toBe(422)
    expect(other.body.results[0][1].error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    // A key first used alone, then in a version 2 batch: the batch's operation replays it.
    const lone = reserve('fp3', 'fp2|usd', 1)
    const loneAnswer = await post(`${suite.running.url}/v1/reserve`, TOKEN, lone, { 'idempotency-key': 'fp3-key' })
    const batched = await post(`${suite.running.url}/v2/batch`, TOKEN, { ops: [op('/v1/reserve', 'fp3-key', lone)] })
    expect(batched.body.results[0]).toEqual([200, loneAnswer.body])
    expect(await balances(['fp2|usd'])).toEqual([{ spent: 0, reserved: 4 }])
  })

  it('answers each bad operation with a typed 4xx at its index and applies nothing of it', async () => {
    const ops: unknown[] = [
      'r',
      [],
      ['r', 5, 'x', T0, T0, 'bad|usd', 1, null, null],
      ['r', 'k', 'x', T0, T0, 'bad|usd', 1, null],
      ['r', 'k2', 7, T0, T0, 'bad|usd', 1, null, null],
      ['r', 'k3', 'x', T0, T0, 'bad|usd', -1, null, null],
      ['r', 'k4', 'x', T0, T0],
      ['c', 'k5', 'x', T0, T0, null, 'bad|usd', 1],
      ['c', 'k6', 'x', T0, T0, 'not a record', 'bad|usd', 1, null],
      ['/v1/nope', 'k7', {}],
      ['/budget/new', 'k8', {}],
      ['/v1/release', 'k9', []],
      ['z', 'k10'],
      ['r', 'k11', 'ok-call', T0, T0 + 1, 'bad|usd', 1, null, null, 'extra'],
      ['r', 'k12', 'many', T0, T0 + 1, ...Array.from({ length: 10_000 }, (_, j) => [`bad|${j}`, 1, null, null]).flat()],
    ]
    const answer = await post(`${suite.running.url}/v2/batch`, TOKEN, { ops })
    expect(answer.status).toBe(200)
    const results = answer.body.results as [number, any][]
    expect(results.map((r) => r[0])).toEqual([
      400, 400, 400, 400, 400, 400, 400, 400, 400, 404, 404, 400, 404, 400, 400,
    ])
    for (const [status, body] of results) {
      expect(status).toBeGreaterThanOrEqual(400)
      expect(['INVALID_INPUT', 'INVALID_JSON', 'NOT_FOUND']).toContain(body.error.code)
    }
    // Structural errors name the operation's index; field errors name the field of the request it stands for.
    expect(results[0]![1].error.message).toContain('`ops[0]`')
    expect(results[2]![1].error.message).toContain('`ops[2][1]`')
    expect(results[3]![1].error.message).toContain('`ops[3]`')
    expect(results[4]![1].error.field).toBe('callId')
    expect(results[5]![1].error.field).toBe('entries[0].amount')
    expect(results[6]![1].error.field).toBe('entries')
    expect(results[8]![1].error.field).toBe('record')
    expect(results[13]![1].error.message).toContain('`ops[13]`')
    expect(results[14]![1].error.message).toContain('`ops[14]` has more than')
    expect(await balances(['bad|usd'])).toEqual([{ spent: 0, reserved: 0 }])
  })

  it("refuses the other version's body as a whole (400 BATCH_VERSION_MISMATCH) and a version it does not speak (404 UNSUPPORTED_BATCH_VERSION); nothing applied", async () => {
    const v1Body = { operations: [{ path: '/v1/reserve', key: 'mm-1', body: reserve('mm1', 'mm|usd', 1) }] }
    const v2Body = { ops: [op('/v1/reserve', 'mm-2', reserve('mm2', 'mm|usd', 1))] }
    const toV2 = await post(`${suite.running.url}/v2/batch`, TOKEN, v1Body)
    expect(toV2.status).toBe(400)
    expect(toV2.body.error.code).toBe('BATCH_VERSION_MISMATCH')
    expect(toV2.body.error.message).toContain('/v1/batch')
    const toV1 = await post(`${suite.running.url}/v1/batch`, TOKEN, v2Body)
    expect(toV1.status).toBe(400)
    expect(toV1.body.error.code).toBe('BATCH_VERSION_MISMATCH')
    expect(toV1.body.error.message).toContain('/v2/batch')
    for (const path of ['/v3/batch', '/v0/batch']) {
      const unknown = await post(`${suite.running.url}${path}`, TOKEN, v2Body)
      expect(unknown.status).toBe(404)
      expect(unknown.body.error.code).toBe('UNSUPPORTED_BATCH_VERSION')
      expect(unknown.body.error.message).toContain('/v2/batch')
    }
    expect((await post(`${suite.running.url}/v2/batch`, TOKEN, { ops: [] })).status).toBe(400)
    expect((await post(`${suite.running.url}/v2/batch`, TOKEN, { ops: [['r']], extra: 1 })).status).toBe(400)
    expect((await post(`${suite.running.url}/v2/batch`, null, v2Body)).status).toBe(401)
    expect(await balances(['mm|usd'])).toEqual([{ spent: 0, reserved: 0 }])
  })

  it('a positional operation stands for exactly the request a lone request sends (2,000 fuzzed requests); others go as [path, key, body]', () => {
    const id = fc.string({ minLength: 1, maxLength: 12 })
    const time = fc.oneof(fc.integer({ min: 0, max: 4e12 }), fc.double({ noNaN: false }))
    const amount = fc.oneof(fc.nat(), fc.double())
    const reserveArb = fc.record({
      callId: id,
      now: time,
      holdExpiresAt: time,
      entries: fc.array(
        fc.record({
          key: id,
          amount,
          limit: fc.option(amount, { nil: null }),
          expiresAt: fc.option(time, { nil: null }),
        }),
        { maxLength: 4 },
      ),
    })
    const commitArb = fc
      .tuple(
        fc.record({
          callId: id,
          now: time,
          entries: fc.array(fc.record({ key: id, amount, expiresAt: fc.option(time, { nil: null }) }), {
            maxLength: 4,
          }),
          dedupeUntil: time,
        }),
        fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })),
      )
      .map(([c, record]) => (record === null ? c : { ...c, record }))
    fc.assert(
      fc.property(
        fc.oneof(
          reserveArb.map((r) => ['/v1/reserve', r] as const),
          commitArb.map((c) => ['/v1/commit', c] as const),
        ),
        ([path, payload]) => {
          const text = JSON.stringify(payload)
          const encoded = JSON.parse(encodeOperation(path, 'k', payload, text)) as unknown[]
          expect(encoded[0]).toBe(path === '/v1/reserve' ? 'r' : 'c')
          expect(JSON.stringify(bodyAtV2({ ops: [encoded] }, 0))).toBe(text)
        },
      ),
      { numRuns: 2_000, seed: 7 },
    )
    // Not exactly that shape: sent as [path, key, body], with the text a lone request sends.
    for (const payload of [
      { now: T0, callId: 'x', holdExpiresAt: T0, entries: [] },
      { ...reserve('x', 'k', 1), extra: 1 },
      { ...reserve('x', 'k', 1), entries: [{ key: 'k', amount: 1, limit: undefined, expiresAt: null }] },
      { ...reserve('x', 'k', 1), entries: [{ key: 'k', amount: 1, expiresAt: null, limit: null }] },
      { ...commit('x', 'k', 1), record: null },
      { ...commit('x', 'k', 1), record: undefined },
      Object.assign(Object.create({ inherited: 1 }) as object, reserve('x', 'k', 1)),
    ]) {
      const text = JSON.stringify(payload)
      const path = 'holdExpiresAt' in payload ? '/v1/reserve' : '/v1/commit'
      expect(encodeOperation(path, 'k', payload, text)).toBe(`[${JSON.stringify(path)},"k",${text}]`)
    }
  })
})

describe('httpStore and the batch versions', () => {
  it('a server with only /v1/batch (an older server) gets version 1 batches from then on, counted right', async () => {
    const paths: string[] = []
    const oldServer = serverWhere('old', (path) => {
      paths.push(path)
      return path === '/v2/batch'
        ? new Response('{"error":{"code":"NOT_FOUND","message":"no endpoint \\"/v2/batch\\""}}', { status: 404 })
        : null
    })
    const store = httpStore({ url: 'http://budget.invalid', token: TOKEN, fetch: oldServer })
    try {
      const first = await Promise.all(
        Array.from({ length: 6 }, (_, i) => store.reserve(reserve(`o${i}`, 'old|usd', 1, 4))),
      )
      expect(first.filter((a) => a.ok).length).toBe(4)
      const commits = await Promise.all(
        first.flatMap((a, i) =>
          a.ok ? [store.commit({ ...commit(`o${i}`, 'old|usd', 1), dedupeUntil: T0 + DAY })] : [],
        ),
      )
      expect(commits.every((c) => !c.duplicate)).toBe(true)
      expect(paths).toEqual(['/v2/batch', '/v1/batch', '/v1/batch'])
      expect(await store.balances({ keys: ['old|usd'], now: T0 })).toEqual([{ spent: 4, reserved: 0 }])
    } finally {
      await store.close()
    }
  })

  it("an answer to /v2/batch in version 1's shape fails each operation with a StorageError naming it, never read as results", async () => {
    // A server that takes the version 2 path but answers as version 1 does (a proxy routing it to an old one, say).
    const mixed = serverWhere('mixed', (path, init) => {
      if (path !== '/v2/batch') return null
      const ops = (JSON.parse(String(init!.body)) as { ops: unknown[] }).ops
      const results = ops.map(() => ({ status: 200, body: { ok: true, balances: [] } }))
      return new Response(JSON.stringify({ results }), { status: 200 })
    })
    const store = httpStore({ url: 'http://budget.invalid', token: TOKEN, fetch: mixed, retries: 0 })
    try {
      const outcomes = await Promise.allSettled([
        store.reserve(reserve('m1', 'mixed|usd', 1)),
        store.reserve(reserve('m2', 'mixed|usd', 1)),
      ])
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected')
        const error = (outcome as PromiseRejectedResult).reason
        expect(error.code).toBe('STORAGE')
        expect(String(error.cause?.message ?? error.message)).toContain('not a version 2 batch answer')
      }
    } finally {
      await store.close()
    }
  })

  it('sends what the request said when it was handed over, and falls back to [path, key, body] for a record the positional form cannot carry', async () => {
    const store = httpStore({ url: suite.running.url, token: TOKEN })
    try {
      // A caller changes its request object after handing it over: the batch (built a tick later) still sends 1.
      const changed = reserve('hand-1', 'hand|usd', 1, null)
      const both = Promise.all([store.reserve(changed), store.reserve(reserve('hand-2', 'hand|usd', 1, null))])
      changed.entries[0]!.amount = 999
      expect((await both).map((a) => a.ok)).toEqual([true, true])
      expect(await store.balances({ keys: ['hand|usd'], now: T0 })).toEqual([{ spent: 0, reserved: 2 }])
      // A record whose toJSON writes nothing: the lone text has no record; the positional form cannot say that, so
      // the operation goes as [path, key, body] and the batch stays valid JSON for the operation beside it.
      const record = commit('hand-1', 'hand|usd', 1).record
      Object.defineProperty(record, 'toJSON', { value: () => undefined, enumerable: false })
      const [committed, third] = await Promise.all([
        store.commit({ ...commit('hand-1', 'hand|usd', 1), record }),
        store.reserve(reserve('hand-3', 'hand|usd', 1, null)),
      ])
      expect(committed.duplicate).toBe(false)
      expect(third.ok).toBe(true)
      expect(await store.balances({ keys: ['hand|usd'], now: T0 })).toEqual([{ spent: 1, reserved: 2 }])
    } finally {
      await store.close()
    }
  })

  it("a batch refused as a whole (400: nothing of it ran) is sent again one request per operation, not an error about the caller's request", async () => {
    const paths: string[] = []
    // What a server answers a batch body it cannot read (a version it does not take, or too many operations).
    const refusing = serverWhere('refusing', (path) => {
      paths.push(path)
      if (!path.endsWith('/batch')) return null
      const body = {
        error: {
          code: 'INVALID_INPUT',
          message: '`operations` must be an array of 1 to 1 operations',
          field: 'operations',
        },
      }
      return new Response(JSON.stringify(body), { status: 400 })
    })
    const store = httpStore({ url: 'http://budget.invalid', token: TOKEN, fetch: refusing, retries: 0 })
    try {
      const reserved = await Promise.all([
        store.reserve(reserve('w1', 'whole|usd', 1)),
        store.reserve(reserve('w2', 'whole|usd', 1)),
      ])
      expect(reserved.map((r) => r.ok)).toEqual([true, true])
      const committed = await Promise.all([
        store.commit(commit('w1', 'whole|usd', 1)),
        store.commit(commit('w2', 'whole|usd', 1)),
      ])
      expect(committed.map((c) => c.duplicate)).toEqual([false, false])
      expect(paths).toEqual(['/v2/batch', '/v1/reserve', '/v1/reserve', '/v2/batch', '/v1/commit', '/v1/commit'])
      expect(await store.balances({ keys: ['whole|usd'], now: T0 })).toEqual([{ spent: 2, reserved: 0 }])
    } finally {
      await store.close()
    }
  })
})
