// How the Node server writes its answers: the body encoded once and sent with its `Content-Length` (not chunked),
// the length counted in UTF-8 bytes, not characters; HEAD answers carry no body.
import { request as httpRequest } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { serve, type Running } from './serve.js'

const TOKEN = 'token-node-answer-0123456789'
const T0 = 1_800_000_000_000

let running: Running | undefined
afterEach(async () => {
  await running?.stop()
  running = undefined
})

/** One raw request: the status, the headers as sent and the body's bytes. */
function raw(
  method: string,
  path: string,
  body: string | null,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${running!.url}${path}`,
      {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          ...(body === null ? {} : { 'content-type': 'application/json' }),
        },
      },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () =>
          resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }),
        )
        response.on('error', reject)
      },
    )
    request.on('error', reject)
    request.end(body ?? undefined)
  })
}

describe('the Node server writes answers with their length', () => {
  it('sends a batch answer and a lone answer with Content-Length, not chunked', async () => {
    running = await serve({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'acme' } } })
    const reserve = {
      callId: 'c1',
      now: T0,
      holdExpiresAt: T0 + 60_000,
      entries: [{ key: 'user:u1|usd', amount: 10, limit: null, expiresAt: null }],
    }
    const lone = await raw('POST', '/v1/reserve', JSON.stringify(reserve))
    const batch = await raw(
      'POST',
      '/v2/batch',
      JSON.stringify({ ops: [['r', 'k2', 'c2', T0, T0 + 60_000, 'user:u1|usd', 10, null, null]] }),
    )
    for (const answer of [lone, batch]) {
      expect(answer.status).toBe(200)
      expect(answer.headers['transfer-encoding']).toBeUndefined()
      expect(answer.headers['content-length']).toBe(String(answer.body.length))
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8')
    }
    expect(JSON.parse(lone.body.toString('utf8'))).toMatchObject({ ok: true })
    expect(JSON.parse(batch.body.toString('utf8'))).toMatchObject({ v: 2, results: [[200, { ok: true }]] })
  })

  it('counts the length in UTF-8 bytes when the answer quotes characters beyond ASCII', async () => {
    running = await serve({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'acme' } } })
    // The records answer carries the record's model as sent.
    const model = 'modèle-€-ü'
    const commit = {
      callId: 'c1',
      now: T0,
      entries: [{ key: 'user:u1|usd', amount: 10, expiresAt: null }],
      dedupeUntil: T0 + 1,
      record: { callId: 'c1', startedAt: T0, endedAt: T0, model },
    }
    expect((await raw('POST', '/v1/commit', JSON.stringify(commit))).status).toBe(200)
    const answer = await raw('POST', '/v1/records', '{}')
    expect(answer.status).toBe(200)
    const text = answer.body.toString('utf8')
    expect(text).toContain(model)
    expect(Buffer.byteLength(text)).toBeGreaterThan(text.length)
    expect(answer.headers['content-length']).toBe(String(answer.body.length))
    expect(JSON.parse(text)).toMatchObject({ records: [{ model }] })
  })

  it('answers HEAD with headers and no body', async () => {
    running = await serve({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'acme' } } })
    const answer = await raw('HEAD', '/health', null)
    expect(answer.status).toBe(200)
    expect(answer.body.length).toBe(0)
  })
})
