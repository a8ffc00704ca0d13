// Request bodies on the Node server: UTF-8 text arrives intact (alone and in a batch), a byte-order mark is skipped,
// bytes that are not UTF-8 get 400; JSON nested deeper than 32 levels (objects or arrays, counted from the request's
// own top level, so a batch's three levels count) gets 400 before anything runs, and 32 levels are accepted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { post, serve, type Running } from './serve.js'

const TOKEN = 'text-token-0123456789abcdef'
const T0 = 1_800_000_000_000
const DAY = 86_400_000

let running: Running

beforeAll(async () => {
  running = await serve({ store: memoryStore(), auth: { tokens: { [TOKEN]: 'tx' } } })
})

afterAll(async () => {
  await running.stop()
})

const commit = (callId: string, note: string) => ({
  callId,
  now: T0,
  entries: [{ key: 'text|usd', amount: 1, expiresAt: null }],
  dedupeUntil: T0 + DAY,
  record: { callId, startedAt: T0, endedAt: T0, note },
})

const send = (path: string, bytes: Uint8Array) =>
  fetch(`${running.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: bytes as Uint8Array<ArrayBuffer>,
  })

describe('request bodies on the Node server', () => {
  it('keeps non-ASCII text intact, alone and in a batch, next to ASCII bodies with escapes', async () => {
    const notes = { alone: 'café – 日本 🚀', batched: 'Ünïcödé ✓ 𝄞', escaped: 'caf\u00e9' }
    expect((await post(`${running.url}/v1/commit`, TOKEN, commit('t-alone', notes.alone))).status).toBe(200)
    const batch = await post(`${running.url}/v1/batch`, TOKEN, {
      operations: [
        { path: '/v1/commit', body: commit('t-batched', notes.batched), key: 'k-batched' },
        { path: '/v1/commit', body: commit('t-ascii', 'plain'), key: 'k-ascii' },
      ],
    })
    expect(batch.body.results.map((r: { status: number }) => r.status)).toEqual([200, 200])
    // Written with a JSON escape only: the body on the wire is all ASCII.
    const escaped = JSON.stringify(commit('t-escaped', 'x')).replace('"x"', '"caf\\u00e9"')
    expect([...escaped].every((c) => c.charCodeAt(0) < 0x80)).toBe(true)
    expect((await send('/v1/commit', new TextEncoder().encode(escaped))).status).toBe(200)
    const records = (await post(`${running.url}/v1/records`, TOKEN, {})).body.records as {
      callId: string
      note: string
    }[]
    const byId = Object.fromEntries(records.map((r) => [r.callId, r.note]))
    expect(byId).toEqual({
      't-alone': notes.alone,
      't-batched': notes.batched,
      't-ascii': 'plain',
      't-escaped': notes.escaped,
    })
  })

  it('skips a byte-order mark and refuses bytes that are not UTF-8 with 400, changing nothing', async () => {
    const body = new TextEncoder().encode(JSON.stringify({ keys: ['text|usd'], now: T0 }))
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...body])
    const bom = await send('/v1/balances', withBom)
    expect(bom.status).toBe(200)
    const before = (await bom.json()) as { balances: unknown }
    const bad = new TextEncoder().encode(JSON.stringify(commit('t-bad', 'x')))
    bad[bad.indexOf(0x78)] = 0xff // the note's "x" becomes a byte no UTF-8 text has
    const refused = await send('/v1/commit', bad)
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'INVALID_JSON',
      message: 'the body is not valid UTF-8',
    })
    expect((await post(`${running.url}/v1/balances`, TOKEN, { keys: ['text|usd'], now: T0 })).body).toEqual(before)
  })

  it('refuses JSON nested deeper than 32 levels with 400 and accepts 32, objects and arrays, alone and in a batch', async () => {
    // A commit body is level 1, its record level 2: `meta` adds `levels` more.
    const nested = (levels: number, kind: 'array' | 'object'): string => {
      let text = '1'
      for (let i = 0; i < levels; i++) text = kind === 'array' ? `[${text}]` : `{"a":${text},"b":0}`
      return text
    }
    const body = (callId: string, levels: number, kind: 'array' | 'object') =>
      JSON.stringify(commit(callId, 'deep')).replace('"note":"deep"', `"note":"deep","meta":${nested(levels, kind)}`)
    for (const kind of ['array', 'object'] as const) {
      const over = await send('/v1/commit', new TextEncoder().encode(body(`d-over-${kind}`, 31, kind)))
      expect(over.status).toBe(400)
      expect(((await over.json()) as { error: { message: string } }).error.message).toBe(
        'the body nests deeper than 32 levels',
      )
      expect((await send('/v1/commit', new TextEncoder().encode(body(`d-max-${kind}`, 30, kind)))).status).toBe(200)
      // In a batch the batch object, its operations and the operation add three levels.
      const batch = (levels: number) =>
        new TextEncoder().encode(
          `{"operations":[{"path":"/v1/commit","body":${body(`d-b${levels}-${kind}`, levels, kind)}}]}`,
        )
      expect((await send('/v1/batch', batch(28))).status).toBe(400)
      const fits = await send('/v1/batch', batch(27))
      expect(fits.status).toBe(200)
      expect(((await fits.json()) as { results: { status: number }[] }).results[0]!.status).toBe(200)
    }
    const records = (await post(`${running.url}/v1/records`, TOKEN, {})).body.records as { callId: string }[]
    expect(
      records
        .map((r) => r.callId)
        .filter((id) => id.startsWith('d-'))
        .sort(),
    ).toEqual(['d-b27-array', 'd-b27-object', 'd-max-array', 'd-max-object'])
  })
})
