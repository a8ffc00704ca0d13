// POST /v1/batch on a real server on 127.0.0.1: operations applied in order, each with its own answer and its own
// idempotency key; and httpStore coalescing the operations of one tick into one request (falling back to one
// request per operation for a server without the endpoint). The version 2 format: batch-v2.test.ts.
import { describe, expect, it } from 'vitest'
import { createBudgetHandler } from '../../src/server/index.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { memoryServerForSuite, post } from './serve.js'

const TOKEN = 'batch-token-0123456789abcdef'
const T0 = 1_800_000_000_000
const DAY = 86_400_000

const suite = memoryServerForSuite(TOKEN, 'bt')

const reserve = (callId: string, amount: number, limit: number | null = 10) => ({
  callId,
  now: T0,
  holdExpiresAt: T0 + 60_000,
  entries: [{ key: 'k', amount, limit, expiresAt: null }],
})

describe('POST /v1/batch', () => {
  it('applies operations in order, each with its own answer; one bad operation does not touch the others', async () => {
    const answer = await post(`${suite.running.url}/v1/batch`, TOKEN, {
      operations: [
        { path: '/v1/reserve', body: reserve('o1', 6) },
        { path: '/v1/reserve', body: reserve('o2', 6) }, // over the limit after o1
        { path: '/v1/reserve', body: { callId: '' } },
        { path: '/budget/new', body: {} },
        {
          path: '/v1/commit',
          body: { callId: 'o1', now: T0, entries: [{ key: 'k', amount: 5, expiresAt: null }], dedupeUntil: T0 + DAY },
        },
        { path: '/v1/balances', body: { keys: ['k'], now: T0 } },
      ],
    })
    expect(answer.status).toBe(200)
    const results = answer.body.results as { status: number; body: any }[]
    expect(results.map((r) => r.status)).toEqual([200, 200, 400, 404, 200, 200])
    expect(results[0]!.body.ok).toBe(true)
    expect(results[1]!.body).toMatchObject({ ok: false, refusedIndex: 0 })
    expect(results[2]!.body.error.code).toBe('INVALID_INPUT')
    expect(results[5]!.body.balances).toEqual([{ spent: 5, reserved: 0 }])
  })

  it('gives each operation its own idempotency: a replay in another batch or alone gets the first answer', async () => {
    const reset = { keys: ['idem|usd'], now: T0 }
    const commit = {
      callId: 'idem-c',
      now: T0,
      entries: [{ key: 'idem|usd', amount: 7, expiresAt: null }],
      dedupeUntil: T0 + DAY,
    }
    const first = await post(`${suite.running.url}/v1/batch`, TOKEN, {
      operations: [
        { path: '/v1/commit', body: commit },
        { path: '/v1/reset', body: reset, key: 'reset-key' },
      ],
    })
    expect(first.body.results.map((r: { status: number }) => r.status)).toEqual([200, 200])
    await post(`${suite.running.url}/v1/commit`, TOKEN, { ...commit, callId: 'idem-d' })
    // The same reset again, in a batch and alone: replayed, so the spend since stays.
    const again = await post(`${suite.running.url}/v1/batch`, TOKEN, {
      operations: [{ path: '/v1/reset', body: reset, key: 'reset-key' }],
    })
    expect(again.body.results[0].status).toBe(200)
    const alone = await post(`${suite.running.url}/v1/reset`, TOKEN, reset, { 'idempotency-key': 'reset-key' })
    expect(alone.headers.get('idempotent-replayed')).toBe('true')
    expect(
      (await post(`${suite.running.url}/v1/balances`, TOKEN, { keys: ['idem|usd'], now: T0 })).body.balances,
    ).toEqual([{ spent: 7, reserved: 0 }])
    // The key with another body: 422 for that operation only.
    const reused = await post(`${suite.running.url}/v1/batch`, TOKEN, {
      operations: [{ path: '/v1/reset', body: { ...reset, now: T0 + 1 }, key: 'reset-key' }],
    })
    expect(reused.body.results[0].status).toBe(422)
  })

  it('fingerprints a batch operation by its body whatever its size: replays across batches and alone, 422 for another body', async () => {
    // A record long enough that its fingerprint is a hash (over 600 characters), and a short one.
    for (const [name, note] of [
      ['long', 'x'.repeat(2000)],
      ['short', 'y'],
    ] as const) {
      const commit = {
        callId: `fp-${name}`,
        now: T0,
        entries: [{ key: `fp-${name}|usd`, amount: 3, expiresAt: null }],
        dedupeUntil: T0 + DAY,
        record: { callId: `fp-${name}`, startedAt: T0, endedAt: T0, note },
      }
      const key = `fp-key-${name}`
      const first = await post(`${suite.running.url}/v1/batch`, TOKEN, {
        operations: [{ path: '/v1/commit', body: commit, key }],
      })
      expect(first.body.results[0]).toMatchObject({ status: 200, body: { duplicate: false } })
      const inBatch = await post(`${suite.running.url}/v1/batch`, TOKEN, {
        operations: [{ path: '/v1/commit', body: commit, key }],
      })
      expect(inBatch.body.results[0]).toEqual(first.body.results[0])
      const alone = await post(`${suite.running.url}/v1/commit`, TOKEN, commit, { 'idempotency-key': key })
      expect(alone.headers.get('idempotent-replayed')).toBe('true')
      expect(alone.body).toEqual(first.body.results[0].body)
      const other = { ...commit, record: { ...commit.record, note: `${note}!` } }
      const reusedInBatch = await post(`${suite.running.url}/v1/batch`, TOKEN, {
        operations: [{ path: '/v1/commit', body: other, key }],
      })
      expect(reusedInBatch.body.results[0].status).toBe(422)
      expect((await post(`${suite.running.url}/v1/commit`, TOKEN, other, { 'idempotency-key': key })).status).toBe(422)
      // A key first used alone is recognised in a batch.
      const aloneFirst = await post(
        `${suite.running.url}/v1/commit`,
        TOKEN,
        { ...commit, callId: `fp2-${name}`, record: { ...commit.record, callId: `fp2-${name}` } },
        { 'idempotency-key': `${key}-2` },
      )
      expect(aloneFirst.status).toBe(200)
      const thenBatch = await post(`${suite.running.url}/v1/batch`, TOKEN, {
        operations: [
          {
            path: '/v1/commit',
            body: { ...commit, callId: `fp2-${name}`, record: { ...commit.record, callId: `fp2-${name}` } },
            key: `${key}-2`,
          },
        ],
      })
      expect(thenBatch.body.results[0]).toEqual({ status: 200, body: aloneFirst.body })
    }
    expect(
      (await post(`${suite.running.url}/v1/balances`, TOKEN, { keys: ['fp-long|usd', 'fp-short|usd'], now: T0 })).body
        .balances,
    ).toEqual([
      { spent: 6, reserved: 0 },
      { spent: 6, reserved: 0 },
    ])
  })

  it('refuses a malformed batch as a whole with 400, and needs a token', async () => {
    expect((await post(`${suite.running.url}/v1/batch`, TOKEN, { operations: [] })).status).toBe(400)
    expect((await post(`${suite.running.url}/v1/batch`, TOKEN, { operations: 'x' })).status).toBe(400)
    expect(
      (
        await post(`${suite.running.url}/v1/batch`, TOKEN, {
          operations: [{ path: '/v1/balances', body: { keys: [], now: T0 } }],
          extra: 1,
        })
      ).status,
    ).toBe(400)
    expect(
      (
        await post(`${suite.running.url}/v1/batch`, null, {
          operations: [{ path: '/v1/balances', body: { keys: [], now: T0 } }],
        })
      ).status,
    ).toBe(401)
  })
})

describe('httpStore batching', () => {
  it('sends the operations of one tick in one request, each answered on its own', async () => {
    const paths: string[] = []
    const counting = ((input: string | URL | Request, init?: RequestInit) => {
      paths.push(new URL(String(input)).pathname)
      return fetch(input, init)
    }) as typeof fetch
    const store = httpStore({ url: suite.running.url, token: TOKEN, fetch: counting })
    try {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.reserve({ ...reserve(`b${i}`, 1), entries: [{ key: 'tick', amount: 1, limit: 30, expiresAt: null }] }),
        ),
      )
      expect(answers.filter((a) => a.ok).length).toBe(30)
      expect(paths).toEqual(['/v2/batch'])
      // Alone in its tick: its own endpoint.
      await store.balances({ keys: ['k'], now: T0 })
      expect(paths.at(-1)).toBe('/v1/balances')
    } finally {
      await store.close()
    }
  })

  it('falls back to one request per operation for a server without either batch endpoint', async () => {
    const handler = createBudgetHandler({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'old' } } })
    const paths: string[] = []
    const oldServer = (async (input: string | URL | Request, init?: RequestInit) => {
      const path = new URL(String(input)).pathname
      paths.push(path)
      if (path === '/v1/batch' || path === '/v2/batch')
        return new Response('{"error":{"code":"NOT_FOUND","message":"no endpoint"}}', { status: 404 })
      return handler(new Request(input, init))
    }) as typeof fetch
    const store = httpStore({ url: 'http://budget.invalid', token: TOKEN, fetch: oldServer })
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => store.reserve(reserve(`f${i}`, 1, 3))))
      expect(answers.filter((a) => a.ok).length).toBe(3)
      await Promise.all(Array.from({ length: 5 }, (_, i) => store.release({ callId: `f${i}`, now: T0 })))
      expect(paths.filter((p) => p === '/v2/batch')).toHaveLength(1)
      expect(paths.filter((p) => p === '/v1/batch')).toHaveLength(1)
      expect(paths.filter((p) => p === '/v1/reserve')).toHaveLength(5)
      expect(paths.filter((p) => p === '/v1/release')).toHaveLength(5)
    } finally {
      await store.close()
    }
  })
})
