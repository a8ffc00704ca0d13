// The budget server on 127.0.0.1: authentication, tenant isolation, idempotency keys, body limits and
// fuzzed bodies. Every bad request must get a 4xx and change nothing.
import { Agent, request as httpRequest } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createBudgetHandler } from '../../src/server/index.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { startBudgetServer, type RunningBudgetServer } from '../helpers/budget-server.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const TOKEN_A = 'token-tenant-a-0123456789abcdef'
const TOKEN_B = 'token-tenant-b-0123456789abcdef'
const T0 = 1_800_000_000_000
const DAY = 86_400_000

let server: RunningBudgetServer
let store: BudgetStore
let url = ''

beforeAll(async () => {
  store = memoryStore()
  server = await startBudgetServer({ store, auth: { tokens: { [TOKEN_A]: 'a', [TOKEN_B]: 'b' } } })
  url = server.url
  // Seed tenant a.
  await post('/v1/commit', {
    callId: 'seed',
    now: T0,
    entries: [{ key: 'user:alice|usd', amount: 100, expiresAt: null }],
    dedupeUntil: T0 + DAY,
    record: { callId: 'seed', startedAt: T0, endedAt: T0 },
  })
  await post('/v1/budgets/put', {
    scope: 'user:alice',
    definition: { maxBudget: 5 },
    now: T0,
    history: { scope: 'user:alice', action: 'create', at: T0, old: null, new: { maxBudget: 5 }, reason: null },
  })
})

afterAll(async () => {
  await server.close()
})

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  token: string | null = TOKEN_A,
): Promise<{ status: number; body: any }> {
  const response = await fetch(url + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: response.status, body: jsonOrText(await response.text()) }
}

/** An answer's body: its JSON value, or its text when it is not JSON. */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/**
 * The fuzz's client: a plain `node:http` POST on a keep-alive agent, with the same method, headers and body as
 * {@link post}. `fetch` (undici, web streams) cost the test more CPU than the server spent answering: with 10,000
 * requests that was most of the file's time.
 */
async function postText(
  agent: Agent,
  path: string,
  text: string,
  headers: Record<string, string>,
  token: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url + path, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        authorization: `Bearer ${token}`,
        ...headers,
      },
    })
    req.on('error', reject)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: jsonOrText(Buffer.concat(chunks).toString('utf8')) })
      })
    })
    req.end(text)
  })
}

/** Everything tenant a's data looks like in the underlying store, to prove that nothing changed. */
async function snapshot(): Promise<string> {
  const [balances, budget, history, records] = await Promise.all([
    store.balances({ keys: ['a/user:alice|usd', 'a/k', 'b/user:alice|usd'], now: T0 }),
    store.getBudget('a/user:alice'),
    store.getHistory('a/user:alice'),
    store.queryRecords({}),
  ])
  return JSON.stringify({ balances, budget, history, records, budgets: await store.listBudgets() })
}

/** Values the fuzzers put where a field is expected (each fuzzer adds its own). */
const NASTY_VALUES = [
  'NaN',
  '1e400',
  '-1',
  '-0',
  '9007199254740993',
  '1.5',
  'null',
  'true',
  '"__proto__"',
  '[]',
  '{}',
  '""',
]

describe('authentication', () => {
  it('refuses missing, malformed, wrong and truncated tokens with 401 and changes nothing', async () => {
    const before = await snapshot()
    const commit = {
      callId: 'x1',
      now: T0,
      entries: [{ key: 'user:alice|usd', amount: 5, expiresAt: null }],
      dedupeUntil: T0 + DAY,
    }
    const cases: [string, Record<string, string>][] = [
      ['missing', {}],
      ['empty', { authorization: '' }],
      ['not bearer', { authorization: `Basic ${TOKEN_A}` }],
      ['bearer without token', { authorization: 'Bearer ' }],
      ['wrong', { authorization: 'Bearer token-tenant-z-0123456789abcdef' }],
      ['truncated', { authorization: `Bearer ${TOKEN_A.slice(0, -1)}` }],
      ['extended', { authorization: `Bearer ${TOKEN_A}x` }],
      ['with a space inside', { authorization: `Bearer ${TOKEN_A.slice(0, 5)} ${TOKEN_A.slice(5)}` }],
      ['8 KiB long', { authorization: `Bearer ${'a'.repeat(8000)}` }],
    ]
    for (const [what, headers] of cases) {
      const answer = await post('/v1/commit', commit, headers, null)
      expect(answer.status, what).toBe(401)
      expect(answer.body.error.code, what).toBe('UNAUTHORIZED')
    }
    expect(await snapshot()).toBe(before)
  })

  it('keeps tenants apart: tenant b can neither see nor change tenant a', async () => {
    const before = await snapshot()
    expect((await post('/v1/balances', { keys: ['user:alice|usd'], now: T0 }, {}, TOKEN_B)).body).toEqual({
      balances: [{ spent: 0, reserved: 0 }],
    })
    expect((await post('/v1/budgets/get', { scope: 'user:alice' }, {}, TOKEN_B)).body).toEqual({ budget: null })
    expect((await post('/v1/budgets/list', {}, {}, TOKEN_B)).body).toEqual({ budgets: [] })
    expect((await post('/v1/budgets/history', { scope: 'user:alice' }, {}, TOKEN_B)).body).toEqual({ history: [] })
    expect((await post('/v1/records', {}, {}, TOKEN_B)).body).toEqual({ records: [], more: false })
    // Attempts to name tenant a's keys through prefixes or traversal stay inside b's namespace.
    for (const key of ['a/user:alice|usd', '../a/user:alice|usd', '/a/user:alice|usd']) {
      await post('/v1/reset', { keys: [key], now: T0 }, {}, TOKEN_B)
      expect((await post('/v1/balances', { keys: [key], now: T0 }, {}, TOKEN_B)).body).toEqual({
        balances: [{ spent: 0, reserved: 0 }],
      })
    }
    // The same call id in tenant b is another call.
    const seedAgain = await post(
      '/v1/commit',
      {
        callId: 'seed',
        now: T0,
        entries: [{ key: 'user:alice|usd', amount: 7, expiresAt: null }],
        dedupeUntil: T0 + DAY,
      },
      {},
      TOKEN_B,
    )
    expect(seedAgain.body.duplicate).toBe(false)
    expect(await store.balances({ keys: ['a/user:alice|usd'], now: T0 }).then((b) => b[0])).toEqual({
      spent: 100,
      reserved: 0,
    })
    await store.reset({ keys: ['b/user:alice|usd'], now: T0 })
    const after = await snapshot()
    expect(JSON.parse(after).budget).toEqual(JSON.parse(before).budget)
    expect(JSON.parse(after).history).toEqual(JSON.parse(before).history)
    expect(JSON.parse(after).balances.slice(0, 2)).toEqual(JSON.parse(before).balances.slice(0, 2))
    // Tenant a sees its own data.
    expect((await post('/v1/budgets/get', { scope: 'user:alice' })).body.budget.scope).toBe('user:alice')
    expect((await post('/v1/records', {})).body.records.map((r: { callId: string }) => r.callId)).toEqual(['seed'])
  })

  it('a token function decides per request (sync or async); errors are 503, unknown tokens 401', async () => {
    const handler = createBudgetHandler({
      store: memoryStore(),
      auth: async (token) => {
        if (token === 'boom') throw new Error('directory down')
        return token === 'let-me-in' ? 'fn-tenant' : null
      },
    })
    const call = (token: string) =>
      handler(
        new Request('http://x/v1/balances', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ keys: ['k'], now: T0 }),
        }),
      )
    expect((await call('let-me-in')).status).toBe(200)
    expect((await call('nope')).status).toBe(401)
    expect((await call('boom')).status).toBe(503)
  })

  it('refuses unusable auth options when created', () => {
    expect(() => createBudgetHandler({ store: memoryStore(), auth: { tokens: {} } })).toThrow(/empty/)
    expect(() => createBudgetHandler({ store: memoryStore(), auth: { tokens: { short: 'a' } } })).toThrow(/16/)
    expect(() => createBudgetHandler({ store: memoryStore(), auth: { tokens: { [TOKEN_A]: 'bad tenant/' } } })).toThrow(
      /tenant/,
    )
    expect(() => createBudgetHandler({ store: memoryStore() } as never)).toThrow(/auth/)
  })
})

describe('idempotency keys', () => {
  it('a replay returns the first answer; the same key with another payload is 422; scoped per tenant', async () => {
    const body = {
      callId: 'idem-1',
      now: T0,
      entries: [{ key: 'k', amount: 11, expiresAt: null }],
      dedupeUntil: T0 + DAY,
    }
    const first = await post('/v1/commit', body, { 'idempotency-key': 'key-1' })
    expect(first.body).toEqual({ duplicate: false, balances: [{ before: 0, after: 11, reserved: 0 }] })
    const replay = await post('/v1/commit', body, { 'idempotency-key': 'key-1' })
    expect(replay).toEqual(first) // the first answer, not `duplicate: true`
    const other = await post('/v1/commit', { ...body, callId: 'idem-2' }, { 'idempotency-key': 'key-1' })
    expect(other.status).toBe(422)
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    // Without the key, the store's own call-id idempotency answers `duplicate: true`.
    expect((await post('/v1/commit', body)).body.duplicate).toBe(true)
    // Tenant b's key-1 is another key.
    const b = await post('/v1/commit', body, { 'idempotency-key': 'key-1' }, TOKEN_B)
    expect(b.body.duplicate).toBe(false)
    expect(await store.balances({ keys: ['a/k'], now: T0 })).toEqual([{ spent: 11, reserved: 0 }])
    await store.reset({ keys: ['b/k'], now: T0 })
  })

  it('a concurrent duplicate gets 409', async () => {
    let releaseGate: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      releaseGate = resolve
    })
    const inner = memoryStore()
    const slow: BudgetStore = { ...inner, commit: async (r) => (await gate, inner.commit(r)) }
    const handler = createBudgetHandler({ store: slow, auth: { tokens: { [TOKEN_A]: 'a' } } })
    const make = () =>
      new Request('http://x/v1/commit', {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'application/json', 'idempotency-key': 'same' },
        body: JSON.stringify({
          callId: 'c',
          now: T0,
          entries: [{ key: 'k', amount: 1, expiresAt: null }],
          dedupeUntil: T0 + DAY,
        }),
      })
    const first = handler(make())
    await new Promise((resolve) => setTimeout(resolve, 20))
    const second = await handler(make())
    expect(second.status).toBe(409)
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe('IDEMPOTENCY_IN_FLIGHT')
    releaseGate()
    expect((await first).status).toBe(200)
    expect((await handler(make())).headers.get('idempotent-replayed')).toBe('true')
  })

  it('keeps the cache bounded', async () => {
    const handler = createBudgetHandler({
      store: memoryStore(),
      auth: { tokens: { [TOKEN_A]: 'a' } },
      idempotency: { maxEntries: 50 },
    })
    for (let i = 0; i < 500; i++) {
      await handler(
        new Request('http://x/v1/balances', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TOKEN_A}`,
            'content-type': 'application/json',
            'idempotency-key': `k${i}`,
          },
          body: JSON.stringify({ keys: ['k'], now: T0 }),
        }),
      )
    }
    const entries = /llm_budget_idempotency_cache_entries (\d+)/.exec(handler.metricsText())
    expect(Number(entries?.[1])).toBeLessThanOrEqual(50)
  })
})

describe('bad input', () => {
  it('answers 413 for a 10 MB body while reading it, and changes nothing', async () => {
    const before = await snapshot()
    const big = JSON.stringify({
      callId: 'big',
      now: T0,
      entries: [{ key: 'k', amount: 1, expiresAt: null }],
      dedupeUntil: T0 + DAY,
      pad: 'x'.repeat(10 * 1024 * 1024),
    })
    // Announced length: read and discarded (within 64 MiB past the limit), then refused: fetch sends the whole body
    // before it reads the answer, and an answer before that came with a connection reset under load.
    const announced = await post('/v1/commit', big)
    expect(announced.status).toBe(413)
    expect(announced.body.error.code).toBe('PAYLOAD_TOO_LARGE')
    // Chunked, no length: refused once 64 KiB have been read.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${url}/v1/commit`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TOKEN_A}`,
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', reject)
      let sent = 0
      const chunk = 'x'.repeat(64 * 1024)
      const pump = (): void => {
        while (sent < 10 * 1024 * 1024) {
          sent += chunk.length
          if (!req.write(chunk)) {
            req.once('drain', pump)
            return
          }
        }
        req.end()
      }
      req.on('response', () => req.destroy())
      pump()
    })
    expect(status).toBe(413)
    expect(await snapshot()).toBe(before)
  })

  it('answers structured 4xx errors for malformed requests', async () => {
    const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
      ['not JSON', () => post('/v1/reserve', '{"callId":'), 400, 'INVALID_JSON'],
      ['a JSON array', () => post('/v1/reserve', '[]'), 400, 'INVALID_JSON'],
      [
        'wrong content type',
        () => post('/v1/reserve', '{}', { 'content-type': 'text/plain' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      ['unknown path', () => post('/v1/nope', {}), 404, 'NOT_FOUND'],
      [
        'negative amount',
        () =>
          post('/v1/reserve', {
            callId: 'n',
            now: T0,
            holdExpiresAt: T0 + 1,
            entries: [{ key: 'k', amount: -1, limit: 5, expiresAt: null }],
          }),
        400,
        'INVALID_INPUT',
      ],
      [
        'bad idempotency key',
        () => post('/v1/balances', { keys: [], now: T0 }, { 'idempotency-key': 'has space' }),
        400,
        'INVALID_INPUT',
      ],
    ]
    for (const [what, run, status, code] of cases) {
      const answer = await run()
      expect(answer.status, what).toBe(status)
      expect(answer.body.error.code, what).toBe(code)
      expect(typeof answer.body.error.message, what).toBe('string')
    }
    const field = await post('/v1/reserve', {
      callId: 'n',
      now: T0,
      holdExpiresAt: T0 + 1,
      entries: [{ key: 'k', amount: 'five', limit: 5, expiresAt: null }],
    })
    expect(field.body.error.field).toBe('entries[0].amount')
    const get = await fetch(`${url}/v1/reserve`, { headers: { authorization: `Bearer ${TOKEN_A}` } })
    expect(get.status).toBe(405)
  })

  it('10,000 fuzzed bodies all get a 4xx or a valid answer, never a 5xx, and tenant a is unchanged; memory stays bounded', async () => {
    const before = await snapshot()
    const paths = [
      '/v1/reserve',
      '/v1/commit',
      '/v1/release',
      '/v1/balances',
      '/v1/reset',
      '/v1/budgets/get',
      '/v1/budgets/put',
      '/v1/budgets/history',
      '/v1/records',
    ]
    const nasty = fc.oneof(
      fc.constantFrom(
        ...NASTY_VALUES,
        'Infinity',
        '-Infinity',
        '{"__proto__":{"x":1}}',
        '"constructor"',
        '"../../etc/passwd"',
      ),
      fc.integer().map(String),
      fc.double().map((d) => JSON.stringify(d) ?? 'null'),
      fc.string({ maxLength: 30 }).map((s) => JSON.stringify(s)),
      fc.nat(2000).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.nat(2000).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
    )
    const field = fc.constantFrom(
      'callId',
      'now',
      'holdExpiresAt',
      'entries',
      'key',
      'amount',
      'limit',
      'expiresAt',
      'keys',
      'scope',
      'definition',
      'history',
      'record',
      'dedupeUntil',
      '__proto__',
      'constructor',
      'from',
      'to',
      'limit',
    )
    const entryText = fc.dictionary(field, nasty, { maxKeys: 5 }).map(
      (d) =>
        `{${Object.entries(d)
          .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
          .join(',')}}`,
    )
    const bodyText = fc.oneof(
      fc
        .tuple(
          fc.dictionary(
            field,
            fc.oneof(
              nasty,
              fc.array(entryText, { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
            ),
            { maxKeys: 8 },
          ),
        )
        .map(
          ([d]) =>
            `{${Object.entries(d)
              .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
              .join(',')}}`,
        ),
      fc.string({ maxLength: 200 }),
      nasty,
    )
    const samples = fc.sample(fc.tuple(fc.constantFrom(...paths), bodyText), { numRuns: 10_000, seed: 42 })
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const statuses = new Map<number, number>()
    const agent = new Agent({ keepAlive: true, maxSockets: 50 })
    try {
      for (let i = 0; i < samples.length; i += 50) {
        await Promise.all(
          samples.slice(i, i + 50).map(async ([path, text]) => {
            // Tenant b sends the fuzz; tenant a's data must not change.
            const key = `fuzz-${i}-${Math.random()}`
            const answer = await postText(agent, path, text, { 'idempotency-key': key }, TOKEN_B)
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
            if (answer.status >= 500)
              throw new Error(`${path} ${text.slice(0, 200)} -> ${answer.status} ${JSON.stringify(answer.body)}`)
          }),
        )
      }
    } finally {
      agent.destroy()
    }
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true)
    expect(statuses.get(400) ?? 0).toBeGreaterThan(5000)
    expect(await snapshot().then((s) => JSON.parse(s).budget)).toEqual(JSON.parse(before).budget)
    const after = JSON.parse(await snapshot())
    expect(after.balances.slice(0, 2)).toEqual(JSON.parse(before).balances.slice(0, 2))
    expect(after.history).toEqual(JSON.parse(before).history)
    gc()
    // The idempotency cache and tenant views are bounded; 10,000 requests must not leave tens of MB behind.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(24 * 1024 * 1024)
  }, 240_000)

  it('2,000 fuzzed /v2/batch bodies: never a 5xx, each operation answered at its index, tenant a unchanged', async () => {
    const before = await snapshot()
    const nasty = fc.oneof(
      fc.constantFrom(...NASTY_VALUES),
      fc.constantFrom('{"__proto__":{"x":1}}', '{"callId":"x","startedAt":1,"endedAt":2}', '"user:alice|usd"', '"a/k"'),
      fc.integer().map(String),
      fc.double().map((d) => JSON.stringify(d) ?? 'null'),
      fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
      fc.nat(40).map((n) => '['.repeat(n) + ']'.repeat(n)),
    )
    const code = fc.oneof(
      fc.constantFrom(
        '"r"',
        '"c"',
        '"/v1/release"',
        '"/v1/balances"',
        '"/v1/reset"',
        '"/v1/budgets/put"',
        '"/budget/new"',
      ),
      nasty,
    )
    const operation = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.tuple(code, fc.oneof(fc.constant('null'), nasty), fc.array(nasty, { maxLength: 13 })),
      },
      { weight: 1, arbitrary: nasty.map((n) => [n] as const) },
    )
    const bodyText = fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .array(operation, { minLength: 1, maxLength: 4 })
          .map(
            (ops) =>
              `{"ops":[${ops.map((o) => (o.length === 1 ? o[0] : `[${[o[0], o[1], ...o[2]].join(',')}]`)).join(',')}]}`,
          ),
      },
      { weight: 1, arbitrary: nasty.map((n) => `{"ops":${n}}`) },
      { weight: 1, arbitrary: nasty.map((n) => `{"operations":[],"ops":${n}}`) },
    )
    const samples = fc.sample(bodyText, { numRuns: 2_000, seed: 43 })
    const statuses = new Map<number, number>()
    const agent = new Agent({ keepAlive: true, maxSockets: 50 })
    try {
      for (let i = 0; i < samples.length; i += 50) {
        await Promise.all(
          samples.slice(i, i + 50).map(async (text) => {
            const answer = await postText(agent, '/v2/batch', text, {}, TOKEN_B)
            const fail = (why: string) =>
              new Error(
                `${why}: ${text.slice(0, 300)} -> ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`,
              )
            if (answer.status >= 500) throw fail('a 5xx')
            if (answer.status !== 200) {
              if (typeof (answer.body as any)?.error?.code !== 'string') throw fail('an untyped refusal')
              return
            }
            const { v, results } = answer.body as { v: unknown; results: unknown[] }
            const ops = (JSON.parse(text) as { ops: unknown[] }).ops
            if (v !== 2 || results.length !== ops.length) throw fail('not one result per operation')
            for (const result of results as [number, any][]) {
              statuses.set(result[0], (statuses.get(result[0]) ?? 0) + 1)
              if (result[0] >= 500) throw fail('an operation answered 5xx')
              if (result[0] >= 400 && typeof result[1]?.error?.code !== 'string') throw fail('an untyped refusal')
            }
          }),
        )
      }
    } finally {
      agent.destroy()
    }
    expect(statuses.get(400) ?? 0).toBeGreaterThan(1000)
    expect(JSON.parse(await snapshot())).toEqual(JSON.parse(before))
  }, 120_000)
})

describe('clients that go away', () => {
  it('a client that disconnects mid-body leaves no request in flight', async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const req = httpRequest(`${url}/v1/commit`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'application/json', 'content-length': '5000' },
        })
        req.on('error', () => resolve())
        req.write('{"callId":"gone","now":1,')
        setTimeout(() => {
          req.destroy()
          resolve()
        }, 20)
      })
    }
    // Only the /metrics request itself is in flight, once the server has seen every socket close.
    await vi.waitFor(
      async () => {
        const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN_A}` } })).text()
        expect(text).toMatch(/llm_budget_http_requests_in_flight 1\n/)
        expect(text).toMatch(/route="commit",method="POST",status="400"/)
      },
      { timeout: 30_000, interval: 100 },
    )
  })
})

describe('health and metrics', () => {
  it('serves /health without a token and /metrics with one', async () => {
    expect((await fetch(`${url}/health`)).status).toBe(200)
    expect((await fetch(`${url}/metrics`)).status).toBe(401)
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN_A}` } })
    expect(metrics.status).toBe(200)
    const text = await metrics.text()
    expect(text).toMatch(/llm_budget_http_requests_total\{route="commit",method="POST",status="200"\} \d+/)
    expect(text).toMatch(/llm_budget_http_request_duration_seconds_bucket\{route="commit",le="0.001"\} \d+/)
    expect(text).toMatch(/llm_budget_store_operation_duration_seconds_count\{operation="commit"\} \d+/)
  })
})
