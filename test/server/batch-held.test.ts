// What the idempotency cache holds of a batch on the Node server: the request as the UTF-8 bytes received (a key
// that comes back is fingerprinted from them) and the answer as the bytes sent when it is ASCII, else as text.
// Either way a replay is the operation's answer exactly, in a lone request or another batch of either version, and
// another body with the same key is refused.
import { describe, expect, it } from 'vitest'
import { encodeOperation } from '../../src/stores/http/wire.js'
import { memoryServerForSuite } from './serve.js'

const TOKEN = 'batch-held-token-0123456789abcdef'
const T0 = 1_800_000_000_000

const suite = memoryServerForSuite(TOKEN, 'held')

/** POSTs `body` (JSON text) and returns the status, the answer's text and its headers. */
async function send(path: string, body: string, key?: string) {
  const response = await fetch(`${suite.running.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
    },
    body,
  })
  const bytes = Buffer.from(await response.arrayBuffer())
  return { status: response.status, text: bytes.toString('utf8'), bytes, headers: response.headers }
}

const commit = (callId: string, model: string) => ({
  callId,
  now: T0 + 1,
  entries: [{ key: 'held|usd', amount: 7, expiresAt: null }],
  dedupeUntil: T0 + 86_400_000,
  record: { callId, startedAt: T0, endedAt: T0 + 1, model, costNanoUsd: 7 },
})
const reserve = (callId: string) => ({
  callId,
  now: T0,
  holdExpiresAt: T0 + 60_000,
  entries: [{ key: 'held|usd', amount: 7, limit: null, expiresAt: null }],
})
const v2 = (...ops: string[]) => `{"ops":[${ops.join(',')}]}`

describe('a remembered batch on the Node server', () => {
  it('fingerprints a key from the request bytes (characters beyond ASCII) and replays its answer exactly', async () => {
    const body = commit('h1', 'modèle-€-ü')
    const first = await send(
      '/v2/batch',
      v2(encodeOperation('/v1/commit', 'h1-key', body, JSON.stringify(body)), '["/v1/balances",null,{"keys":["x"]}]'),
    )
    expect(first.status).toBe(200)
    expect(first.headers.get('content-length')).toBe(String(first.bytes.length))
    const answer = JSON.parse(first.text).results[0]
    expect(answer[0]).toBe(200)
    const answerText = JSON.stringify(answer[1])
    // Alone with the same key and body: the same answer, byte for byte.
    const alone = await send('/v1/commit', JSON.stringify(body), 'h1-key')
    expect(alone.headers.get('idempotent-replayed')).toBe('true')
    expect(alone.text).toBe(answerText)
    // In a version 1 batch and a version 2 one: the same.
    const v1 = await send('/v1/batch', JSON.stringify({ operations: [{ path: '/v1/commit', key: 'h1-key', body }] }))
    expect(JSON.parse(v1.text).results[0]).toEqual({ status: 200, body: answer[1] })
    const again = await send('/v2/batch', v2(encodeOperation('/v1/commit', 'h1-key', body, JSON.stringify(body))))
    expect(JSON.parse(again.text).results[0]).toEqual(answer)
    // The same key with one character of the model changed: refused, whichever way it comes.
    const other = commit('h1', 'modèle-€-u')
    const refusedAlone = await send('/v1/commit', JSON.stringify(other), 'h1-key')
    expect(refusedAlone.status).toBe(422)
    const refusedBatched = await send(
      '/v2/batch',
      v2(encodeOperation('/v1/commit', 'h1-key', other, JSON.stringify(other))),
    )
    expect(JSON.parse(refusedBatched.text).results[0][1].error.code).toBe('IDEMPOTENCY_KEY_REUSED')
  })

  it('keeps an answer with characters beyond ASCII as text, and replays each keyed operation of it exactly', async () => {
    const body = reserve('h2')
    // An operation to an unknown path is answered with a message quoting it: the batch's answer is not ASCII, and
    // the keyed operation's answer comes after it (its place in characters is not its place in bytes).
    const first = await send(
      '/v1/batch',
      JSON.stringify({
        operations: [
          { path: '/v1/réserve', key: 'h2-other', body },
          { path: '/v1/reserve', key: 'h2-key', body },
        ],
      }),
    )
    expect(first.status).toBe(200)
    expect(first.bytes.length).toBeGreaterThan(first.text.length)
    expect(first.headers.get('content-length')).toBe(String(first.bytes.length))
    const results = JSON.parse(first.text).results
    expect(results[0].status).toBe(404)
    expect(results[0].body.error.message).toContain('/v1/réserve')
    const alone = await send('/v1/reserve', JSON.stringify(body), 'h2-key')
    expect(alone.headers.get('idempotent-replayed')).toBe('true')
    expect(alone.text).toBe(JSON.stringify(results[1].body))
    const batched = await send('/v2/batch', v2(encodeOperation('/v1/reserve', 'h2-key', body, JSON.stringify(body))))
    expect(JSON.parse(batched.text).results[0]).toEqual([200, results[1].body])
    // Reserved once, not three times.
    const balances = await send('/v1/balances', JSON.stringify({ keys: ['held|usd'], now: T0 }))
    expect(JSON.parse(balances.text).balances[0].reserved).toBe(7)
  })
})
