// The idempotency cache remembers a batch's keyed answers through one object for the whole batch: replays before
// and after the batch is answered, keys whose answer must not be kept, fingerprints across batches and lone
// requests, and byte accounting that returns to exactly what is left when the batch's keys go.
import { describe, expect, it } from 'vitest'
import { bodyAtV1 } from '../../src/server/batch.js'
import { BatchAnswers, fingerprintOf, IdempotencyCache } from '../../src/server/idempotency.js'

/** A request or answer as the server holds it: its UTF-8 bytes. */
const utf8 = (text: string) => new TextEncoder().encode(text)

const bodyOf = (n: number) => ({ keys: [`k${n}`], now: n })

function setup(options: { maxEntries?: number } = {}) {
  let now = 1_000
  const cache = new IdempotencyCache(
    { maxEntries: options.maxEntries ?? 100, maxBytes: 1_000_000, ttlMs: 60_000 },
    () => now,
  )
  const operations = [0, 1, 2].map((n) => ({ path: '/v1/reset', body: bodyOf(n), key: `key-${n}` }))
  // Written with line breaks and spaces: a remembered operation's body is read again from this text, as JSON.parse
  // reads it, and must fingerprint as the compact body a lone request sends.
  const request = JSON.stringify({ operations }, null, 1)
  const batch = new BatchAnswers(3, utf8(request), bodyAtV1)
  operations.forEach((operation, i) => batch.operation(i, operation.path))
  return { cache, batch, request, advance: (ms: number) => (now += ms) }
}

/** Answers the batch as `runBatch` does: each body placed in the answer text, then the text handed over. */
function complete(cache: IdempotencyCache, batch: BatchAnswers, bodies: string[]): string {
  let out = '{"results":['
  bodies.forEach((body, i) => {
    out += `${i === 0 ? '' : ','}{"status":200,"body":`
    batch.place(i, out.length, out.length + body.length)
    out += `${body}}`
  })
  const text = `${out}]}`
  cache.completeBatch('t', batch, text, utf8(text))
  return text
}

describe('IdempotencyCache with batch answers', () => {
  it('replays an answer before and after the batch is answered, and forgets one that must run again', () => {
    const { cache, batch } = setup()
    for (const i of [0, 1, 2]) expect(cache.begin('t', `key-${i}`, batch, i)).toEqual({ kind: 'new' })
    // The same key again while its operation runs: in flight.
    expect(cache.begin('t', 'key-0', batch, 0, bodyOf(0))).toEqual({ kind: 'in-flight' })
    cache.finishBatch('t', 'key-0', batch, 0, { status: 200, body: '{"a":0}' }, true)
    cache.finishBatch('t', 'key-1', batch, 1, { status: 503, body: '{"error":{}}' }, false)
    cache.finishBatch('t', 'key-2', batch, 2, { status: 400, body: '{"b":2}' }, true)
    // Answered, but the batch is still being written: the operation's own answer.
    expect(cache.begin('t', 'key-0', fingerprintOf('POST', '/v1/reset', JSON.stringify(bodyOf(0))))).toEqual({
      kind: 'replay',
      answer: { status: 200, body: '{"a":0}' },
    })
    expect(cache.size).toBe(2)
    complete(cache, batch, ['{"a":0}', '{"error":{}}', '{"b":2}'])
    expect(cache.begin('t', 'key-2', fingerprintOf('POST', '/v1/reset', JSON.stringify(bodyOf(2))))).toEqual({
      kind: 'replay',
      answer: { status: 400, body: '{"b":2}' },
    })
    // The key whose answer was not kept runs again.
    expect(cache.begin('t', 'key-1', fingerprintOf('POST', '/v1/reset', JSON.stringify(bodyOf(1))))).toEqual({
      kind: 'new',
    })
  })

  it('fingerprints each operation by its body: another body is a mismatch, in another batch or alone', () => {
    const { cache, batch } = setup()
    for (const i of [0, 1, 2]) cache.begin('t', `key-${i}`, batch, i)
    for (const i of [0, 1, 2]) cache.finishBatch('t', `key-${i}`, batch, i, { status: 200, body: `{"n":${i}}` }, true)
    complete(cache, batch, ['{"n":0}', '{"n":1}', '{"n":2}'])
    expect(cache.begin('t', 'key-1', fingerprintOf('POST', '/v1/reset', JSON.stringify(bodyOf(2))))).toEqual({
      kind: 'mismatch',
    })
    expect(cache.begin('t', 'key-1', fingerprintOf('POST', '/v1/balances', JSON.stringify(bodyOf(1))))).toEqual({
      kind: 'mismatch',
    })
    // Another batch, running: its operations are fingerprinted by the bodies at hand.
    const other = new BatchAnswers(
      2,
      utf8(
        '{ "operations": [ {"path":"/v1/reset","body":{ "keys":["k1"], "now":1 }}, {"body":{"keys":["k9"],"now":9}} ] }',
      ),
      bodyAtV1,
    )
    other.operation(0, '/v1/reset')
    other.operation(1, '/v1/reset')
    expect(cache.begin('t', 'key-1', other, 0, { keys: ['k1'], now: 1 })).toEqual({
      kind: 'replay',
      answer: { status: 200, body: '{"n":1}' },
    })
    expect(cache.begin('t', 'key-1', other, 1, { keys: ['k9'], now: 9 })).toEqual({ kind: 'mismatch' })
    // Another tenant's same key is its own.
    expect(cache.begin('u', 'key-1', other, 1, { keys: ['k9'], now: 9 })).toEqual({ kind: 'new' })
  })

  it('counts the request and answer texts once while any key of the batch is left, and nothing once all are gone', () => {
    const { cache, batch, request: requestText, advance } = setup()
    for (const i of [0, 1, 2]) cache.begin('t', `key-${i}`, batch, i)
    const keyBytes = (i: number) => `key-${i}`.length * 2 + 64
    // Both held as UTF-8 bytes (ASCII: one byte a character).
    const request = requestText.length
    expect(cache.byteSize).toBe(keyBytes(0) + keyBytes(1) + keyBytes(2) + request)
    for (const i of [0, 1, 2]) cache.finishBatch('t', `key-${i}`, batch, i, { status: 200, body: `{"n":${i}}` }, true)
    const text = complete(cache, batch, ['{"n":0}', '{"n":1}', '{"n":2}'])
    expect(cache.byteSize).toBe(keyBytes(0) + keyBytes(1) + keyBytes(2) + request + text.length)
    advance(60_001)
    // Expired: each key is removed when it is seen again; the texts go with the last of them.
    const lone = fingerprintOf('POST', '/v1/reset', '{}')
    const loneBytes = (i: number) => `key-${i}`.length * 2 + lone.length * 2 + 64
    expect(cache.begin('t', 'key-0', lone)).toEqual({ kind: 'new' })
    expect(cache.byteSize).toBe(keyBytes(1) + keyBytes(2) + request + text.length + loneBytes(0))
    expect(cache.begin('t', 'key-1', lone)).toEqual({ kind: 'new' })
    expect(cache.begin('t', 'key-2', lone)).toEqual({ kind: 'new' })
    expect(cache.byteSize).toBe(loneBytes(0) + loneBytes(1) + loneBytes(2))
    expect(cache.size).toBe(3)
  })

  it('evicts a batch only once it is answered, and keeps the bounds', () => {
    const { cache, batch } = setup({ maxEntries: 2 })
    for (const i of [0, 1, 2]) cache.begin('t', `key-${i}`, batch, i)
    // All three in flight: kept over the bound (in-flight entries are bounded by the requests in progress).
    expect(cache.size).toBe(3)
    for (const i of [0, 1, 2]) cache.finishBatch('t', `key-${i}`, batch, i, { status: 200, body: `{"n":${i}}` }, true)
    complete(cache, batch, ['{"n":0}', '{"n":1}', '{"n":2}'])
    expect(cache.size).toBeLessThanOrEqual(2)
    // Evicted oldest first: the last key is still replayed from the batch's text.
    expect(cache.begin('t', 'key-2', fingerprintOf('POST', '/v1/reset', JSON.stringify(bodyOf(2))))).toEqual({
      kind: 'replay',
      answer: { status: 200, body: '{"n":2}' },
    })
  })

  it('leaves a key that expired while its batch operation ran to the request that took it since', () => {
    // The batch's answers do not look their keys up again: one whose key left the cache must neither replace nor
    // forget the entry another request made for that key since.
    const { cache, batch, advance } = setup()
    for (const i of [0, 1]) expect(cache.begin('t', `key-${i}`, batch, i)).toEqual({ kind: 'new' })
    advance(60_001)
    const lone = (n: number) => fingerprintOf('POST', '/v1/reset', JSON.stringify(bodyOf(n)))
    // Both keys expired in flight and were taken by lone requests, still running.
    for (const n of [0, 1]) expect(cache.begin('t', `key-${n}`, lone(n))).toEqual({ kind: 'new' })
    cache.finishBatch('t', 'key-0', batch, 0, { status: 200, body: '{"batch":0}' }, true)
    cache.finishBatch('t', 'key-1', batch, 1, { status: 503, body: '{"error":{}}' }, false)
    expect(cache.size).toBe(2)
    for (const n of [0, 1]) expect(cache.begin('t', `key-${n}`, lone(n))).toEqual({ kind: 'in-flight' })
    for (const n of [0, 1]) cache.finish('t', `key-${n}`, { status: 200, body: `{"lone":${n}}` }, true)
    complete(cache, batch, ['{"batch":0}', '{"error":{}}'])
    for (const n of [0, 1])
      expect(cache.begin('t', `key-${n}`, lone(n))).toEqual({
        kind: 'replay',
        answer: { status: 200, body: `{"lone":${n}}` },
      })
  })

  it('counts the whole request text of a batch with one small keyed operation, and the fingerprints worked out', () => {
    // One keyed operation beside 999 large unkeyed ones: the cache holds the whole request text for that key, so
    // its byte bound must count it (it counted the key's share, 1/1000 of it, and then kept the batch parsed again).
    let now = 1_000
    const cache = new IdempotencyCache({ maxEntries: 10_000, maxBytes: 1 << 30, ttlMs: 600_000 }, () => now)
    const operations: unknown[] = [{ path: '/v1/reset', body: bodyOf(0), key: 'k' }]
    for (let i = 1; i < 1000; i++) operations.push({ path: '/v1/reset', body: { junk: 'x'.repeat(16_000) } })
    const request = JSON.stringify({ operations })
    const batch = new BatchAnswers(operations.length, utf8(request), bodyAtV1)
    batch.operation(0, '/v1/reset')
    expect(cache.begin('t', 'k', batch, 0)).toEqual({ kind: 'new' })
    expect(cache.byteSize).toBe('k'.length * 2 + 64 + request.length)
    cache.finishBatch('t', 'k', batch, 0, { status: 200, body: '{}' }, true)
    const text = complete(
      cache,
      batch,
      operations.map(() => '{}'),
    )
    const counted = cache.byteSize
    expect(counted).toBe('k'.length * 2 + 64 + request.length + text.length)
    // The key comes back: its fingerprint is worked out from the request text and kept, and counted.
    const fingerprint = fingerprintOf('POST', '/v1/reset', JSON.stringify(bodyOf(0)))
    expect(cache.begin('t', 'k', fingerprint)).toEqual({ kind: 'replay', answer: { status: 200, body: '{}' } })
    expect(cache.byteSize).toBe(counted + fingerprint.length * 2)
    // Gone with its key: nothing left counted.
    now += 600_001
    expect(cache.begin('t', 'k', fingerprint)).toEqual({ kind: 'new' })
    expect(cache.byteSize).toBe('k'.length * 2 + fingerprint.length * 2 + 64)
  })

  it('holds a request and an ASCII answer as UTF-8 bytes, counted as bytes; an answer beyond ASCII as text', () => {
    const cache = new IdempotencyCache({ maxEntries: 100, maxBytes: 1_000_000, ttlMs: 60_000 }, () => 1_000)
    const bodies = [
      { keys: ['clé-0'], now: 0 },
      { keys: ['k1'], now: 1 },
    ]
    const request = new TextEncoder().encode(
      JSON.stringify({ operations: bodies.map((body, i) => ({ path: '/v1/reset', body, key: `b-${i}` })) }),
    )
    const batch = new BatchAnswers(2, request, bodyAtV1)
    bodies.forEach((_, i) => batch.operation(i, '/v1/reset'))
    for (const i of [0, 1]) cache.begin('t', `b-${i}`, batch, i)
    const keys = 2 * ('b-0'.length * 2 + 64)
    expect(cache.byteSize).toBe(keys + request.byteLength)
    for (const i of [0, 1]) cache.finishBatch('t', `b-${i}`, batch, i, { status: 200, body: `{"n":${i}}` }, true)
    let text = '{"results":['
    for (const i of [0, 1]) {
      text += `${i === 0 ? '' : ','}{"status":200,"body":`
      batch.place(i, text.length, text.length + 7)
      text += `{"n":${i}}}`
    }
    text += ']}'
    const bytes = new TextEncoder().encode(text)
    cache.completeBatch('t', batch, text, bytes)
    expect(cache.byteSize).toBe(keys + request.byteLength + bytes.byteLength)
    // Fingerprinted from the bytes (a body with characters beyond ASCII): the same body replays, another does not.
    const fingerprint = (body: unknown) => fingerprintOf('POST', '/v1/reset', JSON.stringify(body))
    expect(cache.begin('t', 'b-1', fingerprint(bodies[1]))).toEqual({
      kind: 'replay',
      answer: { status: 200, body: '{"n":1}' },
    })
    expect(cache.begin('t', 'b-0', fingerprint({ keys: ['cle-0'], now: 0 }))).toEqual({ kind: 'mismatch' })
    expect(cache.begin('t', 'b-0', fingerprint(bodies[0]))).toEqual({
      kind: 'replay',
      answer: { status: 200, body: '{"n":0}' },
    })

    // An answer with a character beyond ASCII: held (and counted) as text, replayed from it.
    const other = new BatchAnswers(
      1,
      utf8('{"operations":[{"path":"/v1/reset","body":{"keys":["x"],"now":2}}]}'),
      bodyAtV1,
    )
    other.operation(0, '/v1/reset')
    cache.begin('u', 'c-0', other, 0)
    const before = cache.byteSize
    cache.finishBatch('u', 'c-0', other, 0, { status: 200, body: '{"m":"é"}' }, true)
    const wide = '{"results":[{"status":200,"body":{"m":"é"}}]}'
    other.place(0, 33, 42)
    cache.completeBatch('u', other, wide, new TextEncoder().encode(wide))
    expect(cache.byteSize).toBe(before + wide.length * 2)
    expect(cache.begin('u', 'c-0', fingerprintOf('POST', '/v1/reset', '{"keys":["x"],"now":2}'))).toEqual({
      kind: 'replay',
      answer: { status: 200, body: '{"m":"é"}' },
    })
  })
})
