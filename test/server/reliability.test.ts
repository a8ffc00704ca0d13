// The budget server's reliability findings, each reproduced against a real server on 127.0.0.1: tenants keep
// their own share of the record cap and of the idempotency cache, errors never show the tenant prefix, the
// request timeout is what it says, a chunked oversized upload gets its 413, /budget/new is atomic, and failed
// authentication is rate-limited per client.
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { post, serve, type Running } from './serve.js'

const TOKEN_A = 'token-reliability-a-0123456789'
const TOKEN_B = 'token-reliability-b-0123456789'
const TENANT_A = 'tenant-secret-a'
const auth = { tokens: { [TOKEN_A]: TENANT_A, [TOKEN_B]: 'b' } }
const T0 = 1_800_000_000_000
const DAY = 86_400_000

let running: Running | undefined
afterEach(async () => {
  await running?.stop()
  running = undefined
})

const commitBody = (callId: string, amount: number, key = 'user:alice|usd') => ({
  callId,
  now: T0,
  entries: [{ key, amount, expiresAt: null }],
  dedupeUntil: T0 + DAY,
  record: { callId, startedAt: T0, endedAt: T0 },
})

describe('tenants do not share caches', () => {
  it("tenant b's 400 commits do not evict tenant a's spend records", async () => {
    running = await serve({ store: memoryStore({ maxRecords: 64 }), auth })
    for (let i = 0; i < 10; i++)
      expect((await post(`${running.url}/v1/commit`, TOKEN_A, commitBody(`a${i}`, 1))).status).toBe(200)
    for (let i = 0; i < 400; i++)
      expect((await post(`${running.url}/v1/commit`, TOKEN_B, commitBody(`b${i}`, 1))).status).toBe(200)
    const own = await post(`${running.url}/v1/records`, TOKEN_A, {})
    expect(own.body.records.map((r: { callId: string }) => r.callId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `a${i}`),
    )
    // b's share stays bounded by the cap.
    const theirs = await post(`${running.url}/v1/records`, TOKEN_B, {})
    expect(theirs.body.records.length).toBeLessThanOrEqual(64)
    expect(theirs.body.records.at(-1).callId).toBe('b399')
  })

  it("tenant b's requests do not evict tenant a's remembered answer: a retried reset runs once", async () => {
    running = await serve({ store: memoryStore(), auth, idempotency: { maxEntries: 50 } })
    const { url } = running
    await post(`${url}/v1/commit`, TOKEN_A, commitBody('before', 100, 'k|usd'))
    const reset = { keys: ['k|usd'], now: T0 }
    expect((await post(`${url}/v1/reset`, TOKEN_A, reset, { 'idempotency-key': 'reset-1' })).status).toBe(200)
    await post(`${url}/v1/commit`, TOKEN_A, commitBody('after', 30, 'k|usd'))
    for (let i = 0; i < 60; i++)
      await post(`${url}/v1/balances`, TOKEN_B, { keys: ['k|usd'], now: T0 }, { 'idempotency-key': `b-${i}` })
    const retried = await post(`${url}/v1/reset`, TOKEN_A, reset, { 'idempotency-key': 'reset-1' })
    expect(retried.status).toBe(200)
    expect(retried.headers.get('idempotent-replayed')).toBe('true')
    expect((await post(`${url}/v1/balances`, TOKEN_A, { keys: ['k|usd'], now: T0 })).body.balances).toEqual([
      { spent: 30, reserved: 0 },
    ])
    // The cache as a whole stays bounded.
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN_A}` } })).text()
    expect(Number(/llm_budget_idempotency_cache_entries (\d+)/.exec(metrics)?.[1])).toBeLessThanOrEqual(50)
  })
})

describe('error answers', () => {
  it('never show the internal tenant prefix', async () => {
    running = await serve({ store: memoryStore(), auth })
    await post(`${running.url}/v1/commit`, TOKEN_A, commitBody('full', Number.MAX_SAFE_INTEGER, 'k'))
    const overflow = await post(`${running.url}/v1/commit`, TOKEN_A, commitBody('over', 1, 'k'))
    expect(overflow.status).toBe(400)
    expect(overflow.body.error.message).toMatch(/would exceed/)
    expect(JSON.stringify(overflow.body)).not.toContain(TENANT_A)
  })

  it('quote what the client sent in bounded form', async () => {
    running = await serve({ store: memoryStore(), auth })
    const answer = await post(`${running.url}/${'p'.repeat(5000)}`, TOKEN_A, {})
    expect(answer.status).toBe(404)
    expect(answer.body.error.message.length).toBeLessThan(400)
    const type = await post(`${running.url}/v1/balances`, TOKEN_A, '{}', { 'content-type': `text/${'x'.repeat(5000)}` })
    expect(type.status).toBe(415)
    expect(type.body.error.message.length).toBeLessThan(400)
  })
})

describe('slow and oversized uploads', () => {
  it('a client that sends its body slower than requestTimeoutMs is cut off after about requestTimeoutMs', async () => {
    running = await serve({ store: memoryStore(), auth, requestTimeoutMs: 1_000, headersTimeoutMs: 1_000 })
    const socket = connect(running.port, '127.0.0.1')
    const answer = new Promise<string>((resolve) => {
      let text = ''
      socket.on('data', (chunk) => (text += chunk.toString()))
      socket.on('close', () => resolve(text))
      socket.on('error', () => undefined)
    })
    socket.write(
      `POST /v1/balances HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN_A}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n`,
    )
    // One byte every 100 ms: the 1,000-byte body would take 100 s.
    let sent = 0
    const trickle = setInterval(() => {
      if (!socket.writable) return
      socket.write(' ')
      sent++
    }, 100)
    const text = await answer
    clearInterval(trickle)
    expect(text).toMatch(/^HTTP\/1\.1 408/)
    // Cut off while the body was still arriving, not after it (Node's default check interval would let it run on
    // for 30 to 60 s; the test's own limit of 20 s bounds the wait).
    expect(sent).toBeLessThan(1000)
  }, 20_000)

  it('a chunked 10 MB upload is read to its end and answered 413, without EPIPE, and the connection closes', async () => {
    running = await serve({ store: memoryStore(), auth })
    // A plain client that sends its whole body before it reads the answer (as curl and many HTTP libraries do).
    const socket = connect(running.port, '127.0.0.1')
    let text = ''
    let error: string | null = null
    socket.on('data', (chunk) => (text += chunk.toString()))
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message))
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    const write = (data: string): Promise<void> =>
      new Promise((resolve) => {
        if (socket.destroyed || socket.write(data)) resolve()
        else {
          socket.once('drain', () => resolve())
          socket.once('close', () => resolve())
        }
      })
    await write(
      `POST /v1/commit HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN_A}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
    )
    const chunk = 'x'.repeat(64 * 1024)
    for (let sent = 0; sent < 10 * 1024 * 1024 && !socket.destroyed; sent += chunk.length)
      await write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    await write('0\r\n\r\n')
    await closed
    expect(error).toBeNull()
    expect(text).toMatch(/^HTTP\/1\.1 413 /)
    expect(text).toMatch(/PAYLOAD_TOO_LARGE/)
  }, 20_000)
})

describe('/budget/new', () => {
  it('is atomic: of 8 concurrent creates of one scope, one succeeds and 7 get 409', async () => {
    const inner = memoryStore()
    // A slow read widens the window between "is there a budget?" and "create it".
    const store: BudgetStore = {
      ...inner,
      getBudget: async (scope) => (await new Promise((r) => setTimeout(r, 30)), inner.getBudget(scope)),
    }
    running = await serve({ store, auth })
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(`${running!.url}/budget/new`, TOKEN_A, { scope: 'user:race', definition: { maxBudget: i + 1 } }),
      ),
    )
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409])
    const history = await inner.getHistory(`${TENANT_A}/user:race`)
    expect(history.map((h) => h.action)).toEqual(['create'])
    const winner = answers.find((a) => a.status === 200)!
    expect((await inner.getBudget(`${TENANT_A}/user:race`))?.definition).toMatchObject({
      definition: { maxBudget: winner.body.budget.definition.maxBudget },
    })
  })
})

describe('failed authentication', () => {
  function fromAddress(
    url: string,
    localAddress: string,
    token: string,
  ): Promise<{ status: number; retryAfter: string | undefined }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${url}/v1/balances`, {
        method: 'POST',
        localAddress,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', connection: 'close' },
      })
      req.on('response', (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }))
      })
      req.on('error', reject)
      req.end(JSON.stringify({ keys: ['k'], now: T0 }))
    })
  }

  it('is limited per client: after the limit, 429 with Retry-After (even for a right token); other clients unaffected', async () => {
    running = await serve({ store: memoryStore(), auth, authFailures: { max: 5, windowMs: 60_000 } })
    const { url } = running
    for (let i = 0; i < 5; i++)
      expect((await fromAddress(url, '127.0.0.1', `wrong-token-${i}-0123456789`)).status).toBe(401)
    const limited = await fromAddress(url, '127.0.0.1', 'wrong-token-x-0123456789')
    expect(limited.status).toBe(429)
    expect(Number(limited.retryAfter)).toBeGreaterThan(0)
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(60)
    // Guessing stops: a right token from the same client is not told apart from a wrong one while limited.
    expect((await fromAddress(url, '127.0.0.1', TOKEN_A)).status).toBe(429)
    // Another client address is not affected.
    expect((await fromAddress(url, '127.0.0.2', TOKEN_A)).status).toBe(200)
  })

  it('refuses bad limit options', async () => {
    await expect(serve({ store: memoryStore(), auth, authFailures: { max: 0 } })).rejects.toThrow(
      /authFailures`: `max`/,
    )
    await expect(serve({ store: memoryStore(), auth, authFailure: false } as never)).rejects.toThrow(/authFailures/)
  })
})
