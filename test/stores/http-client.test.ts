// httpStore's client behaviour against a scripted local HTTP server on 127.0.0.1: retries with the same
// Idempotency-Key, Retry-After, what is not retried, timeouts, the circuit breaker and the outbox.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fileOutbox } from '../../src/stores/file.js'
import { httpStore, memoryOutbox, type HttpOutboxEntry } from '../../src/stores/http.js'

interface Seen {
  path: string
  key: string | undefined
  body: string
}

type Script = (seen: Seen, n: number) => { status: number; body?: unknown; headers?: Record<string, string> } | 'hang'

let server: Server
let url = ''
let script: Script = () => ({ status: 200, body: {} })
let seen: Seen[] = []
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-http-client-'))

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const entry = { path: req.url ?? '', key: req.headers['idempotency-key'] as string | undefined, body }
      seen.push(entry)
      const answer = script(entry, seen.length)
      if (answer === 'hang') return
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
      res.end(JSON.stringify(answer.body ?? {}))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

beforeEach(() => {
  seen = []
})

const TOKEN = 'client-token-0123456789'
const fast = { retryBaseDelayMs: 1, retryMaxDelayMs: 5, outboxRetryMs: 20 }
const balancesOk = { balances: [{ spent: 1, reserved: 0 }] }
const commitRequest = (callId: string) => ({
  callId,
  now: 1,
  entries: [{ key: 'k', amount: 3, expiresAt: null }],
  dedupeUntil: 1e15,
})

describe('httpStore client', () => {
  it('retries 503 and network-level failures with the same Idempotency-Key, honouring Retry-After', async () => {
    script = (_, n) =>
      n < 3
        ? { status: 503, body: { error: { code: 'STORAGE', message: 'busy' } }, headers: { 'retry-after': '0' } }
        : { status: 200, body: balancesOk }
    const store = httpStore({ url, token: TOKEN, ...fast })
    expect(await store.balances({ keys: ['k'], now: 1 })).toEqual(balancesOk.balances)
    expect(seen.length).toBe(3)
    expect(new Set(seen.map((s) => s.key)).size).toBe(1)
    expect(seen[0]!.key).toMatch(/^[\x21-\x7e]{8,}$/)
    await store.close()
  })

  it('gives up at once when Retry-After asks for longer than maxRetryAfterMs', async () => {
    script = () => ({
      status: 429,
      body: { error: { code: 'RATE', message: 'slow down' } },
      headers: { 'retry-after': '120' },
    })
    const store = httpStore({ url, token: TOKEN, ...fast, maxRetryAfterMs: 1000 })
    await expect(store.balances({ keys: ['k'], now: 1 })).rejects.toMatchObject({ code: 'STORAGE' })
    expect(seen.length).toBe(1)
    await store.close()
  })

  it('does not retry answers that would not change: 400 is InvalidInputError, 401 a non-retryable StorageError', async () => {
    script = () => ({ status: 400, body: { error: { code: 'INVALID_INPUT', message: 'bad key', field: 'keys[0]' } } })
    const store = httpStore({ url, token: TOKEN, ...fast })
    await expect(store.balances({ keys: ['k'], now: 1 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'keys[0]',
    })
    expect(seen.length).toBe(1)
    script = () => ({ status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'unknown token' } } })
    await expect(store.balances({ keys: ['k'], now: 1 })).rejects.toMatchObject({ code: 'STORAGE', retryable: false })
    expect(seen.length).toBe(2)
    // A rejected commit is an error too, not a queued commit.
    await expect(store.commit(commitRequest('c401'))).rejects.toMatchObject({ code: 'STORAGE', retryable: false })
    expect(await store.pendingCommits()).toBe(0)
    await store.close()
  })

  it('validates locally before sending anything', async () => {
    const store = httpStore({ url, token: TOKEN, ...fast })
    await expect(store.reserve({ callId: '', now: 1, holdExpiresAt: 2, entries: [] })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(
      store.commit({ ...commitRequest('x'), entries: [{ key: 'k', amount: -1, expiresAt: null }] }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(seen.length).toBe(0)
    await store.close()
  })

  it('aborts an attempt after timeoutMs and retries it', async () => {
    script = (_, n) => (n === 1 ? 'hang' : { status: 200, body: balancesOk })
    const store = httpStore({ url, token: TOKEN, ...fast, timeoutMs: 100 })
    expect(await store.balances({ keys: ['k'], now: 1 })).toEqual(balancesOk.balances)
    expect(seen.length).toBe(2)
    await store.close()
  })

  it('opens the circuit after consecutive failures: calls fail without a request, then a probe closes it', async () => {
    script = () => ({ status: 503, body: { error: { code: 'STORAGE', message: 'down' } } })
    const store = httpStore({
      url,
      token: TOKEN,
      ...fast,
      retries: 0,
      circuitBreaker: { failureThreshold: 3, cooldownMs: 200 },
    })
    for (let i = 0; i < 3; i++)
      await expect(store.balances({ keys: ['k'], now: 1 })).rejects.toMatchObject({ code: 'STORAGE' })
    expect(store.circuit).toBe('open')
    await expect(store.balances({ keys: ['k'], now: 1 })).rejects.toThrow(/circuit breaker is open/)
    expect(seen.length).toBe(3)
    script = () => ({ status: 200, body: balancesOk })
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(store.circuit).toBe('half-open')
    expect(await store.balances({ keys: ['k'], now: 1 })).toEqual(balancesOk.balances)
    expect(store.circuit).toBe('closed')
    await store.close()
  })

  it('queues commits the server cannot take, resolves them as queued, and delivers them in order once', async () => {
    script = () => ({ status: 503, body: { error: { code: 'STORAGE', message: 'down' } } })
    const store = httpStore({ url, token: TOKEN, ...fast, retries: 1, outbox: memoryOutbox() })
    const first = await store.commit(commitRequest('q1'))
    expect(first).toEqual({ duplicate: false, queued: true, balances: [{ before: 0, after: 0, reserved: 0 }] })
    // While older commits wait, a new one queues behind them, even if the server could answer.
    script = () => ({ status: 200, body: { duplicate: false, balances: [{ before: 0, after: 3, reserved: 0 }] } })
    seen = []
    const flushed = await store.flush()
    expect(flushed).toBe(0)
    expect(seen.map((s) => JSON.parse(s.body).callId)).toEqual(['q1'])
    const direct = await store.commit(commitRequest('q2'))
    expect(direct).toEqual({ duplicate: false, balances: [{ before: 0, after: 3, reserved: 0 }] })
    expect(await store.pendingCommits()).toBe(0)
    await store.close()
  })

  it('hands a queued commit the server refuses for good to onUndeliverable and removes it', async () => {
    script = () => ({ status: 503, body: {} })
    const refused: HttpOutboxEntry[] = []
    const store = httpStore({ url, token: TOKEN, ...fast, retries: 0, onUndeliverable: (entry) => refused.push(entry) })
    await store.commit(commitRequest('overflow'))
    script = () => ({
      status: 400,
      body: { error: { code: 'INVALID_INPUT', message: 'would overflow', field: 'entries[0].amount' } },
    })
    expect(await store.flush()).toBe(0)
    expect(refused.map((e) => e.request.callId)).toEqual(['overflow'])
    await store.close()
  })
})

describe('fileOutbox', () => {
  const entry = (id: string): HttpOutboxEntry => ({ id, request: commitRequest(id), queuedAt: 1 })

  it('keeps entries across instances, drops a torn last line, and forgets removed entries', async () => {
    const path = join(dir, 'outbox-1.jsonl')
    const a = fileOutbox({ path })
    await a.add(entry('e1'))
    await a.add(entry('e2'))
    await a.add(entry('e3'))
    await a.remove('e2')
    await a.close()
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"a":{"id":"torn","requ`)
    const b = fileOutbox({ path })
    expect((await b.entries()).map((e) => e.id)).toEqual(['e1', 'e3'])
    await b.remove('e1')
    await b.remove('e3')
    await b.close()
    expect(readFileSync(path, 'utf8')).toBe('')
  })

  it('refuses a file locked by a live process; quarantines a damaged line and keeps the rest', async () => {
    const path = join(dir, 'outbox-2.jsonl')
    writeFileSync(`${path}.lock`, String(process.ppid))
    await expect(fileOutbox({ path }).entries()).rejects.toThrow(/in use by process/)
    rmSync(`${path}.lock`)
    const kept = { id: 'x', queuedAt: 1, request: { callId: 'x', now: 1, entries: [], dedupeUntil: 2 } }
    writeFileSync(path, `not json\n${JSON.stringify({ a: kept })}\n`)
    const outbox = fileOutbox({ path })
    expect(await outbox.entries()).toEqual([kept])
    expect((await outbox.recovery()).quarantined).toEqual([{ line: 1, problem: 'not JSON' }])
    await outbox.close()
  })
})
