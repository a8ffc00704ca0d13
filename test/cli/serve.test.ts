// `llm-budget serve` as a real process: prints where it listens, serves, finishes in-flight requests on
// SIGTERM and exits 0; data of a file store survives a restart. The refused arguments (nothing listens) run the
// same command in this process (runCliHere), without a Node start per run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseTokenFile } from '../../src/cli/commands/serve.js'
import { httpStore } from '../../src/stores/http.js'
import { runCliHere, serveCli } from '../helpers/cli.js'
import { startRedisServer } from '../helpers/redis-server.js'

const TOKEN = 'cli-test-token-0123456789abcdef'
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-serve-'))
const tokenFile = join(dir, 'tokens.txt')
writeFileSync(tokenFile, `# token tenant\n${TOKEN} cli\n\nother-token-0123456789abcdef other # second tenant\n`)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const serve = (args: string[]) => serveCli(args)

async function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const { code, stdout, stderr } = await runCliHere(['serve', ...args])
  return { code, output: stdout + stderr }
}

describe('llm-budget serve', () => {
  it('parses token files and refuses bad ones', () => {
    expect(parseTokenFile(`a-token-0123456789 t1\n# c\n\nb-token-0123456789\tt2 # x\n`)).toEqual({
      'a-token-0123456789': 't1',
      'b-token-0123456789': 't2',
    })
    expect(() => parseTokenFile('one two three')).toThrow(/line 1/)
    expect(() => parseTokenFile('# nothing\n')).toThrow(/no tokens/)
    expect(() => parseTokenFile('t t1\nt t2')).toThrow(/twice/)
  })

  it('exits 2 without --token-file or with a bad --store', async () => {
    const missing = await run(['--store', 'memory'])
    expect(missing.code).toBe(2)
    expect(missing.output).toMatch(/--token-file is required/)
    const bad = await run(['--store', 'mysql://x', '--token-file', tokenFile, '--port', '0'])
    expect(bad.code).toBe(2)
    expect(bad.output).toMatch(/--store must be/)
  })

  it('serves, and on SIGTERM finishes the request in flight before it exits 0', async () => {
    const server = await serve(['--store', 'memory', '--port', '0', '--token-file', tokenFile])
    const body = JSON.stringify({
      callId: 'slow',
      now: 1,
      entries: [{ key: 'k', amount: 5, expiresAt: null }],
      dedupeUntil: 1e15,
    })
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${server.url}/v1/commit`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = ''
          res.on('data', (c: Buffer) => (text += c.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        },
      )
      req.on('error', reject)
      req.write(body.slice(0, 20))
      setTimeout(() => {
        server.child.kill('SIGTERM')
        setTimeout(() => req.end(body.slice(20)), 300)
      }, 200)
    })
    const { status, text } = await answer
    expect(status).toBe(200)
    expect(JSON.parse(text)).toMatchObject({ duplicate: false, balances: [{ before: 0, after: 5, reserved: 0 }] })
    expect(await server.exit).toBe(0)
    expect(server.output()).toMatch(/SIGTERM: finishing in-flight requests[\s\S]*stopped/)
  })

  it('on SIGTERM, a request that arrives on a kept-alive connection is answered with Connection: close', async () => {
    // A busy keep-alive client whose connection is never idle kept the server serving its new requests until
    // --shutdown-timeout (30 s by default). Two pipelined requests on one raw socket: the first began before the
    // signal, the second after it.
    const server = await serve(['--store', 'memory', '--port', '0', '--token-file', tokenFile])
    const commit = (callId: string): string => {
      const body = JSON.stringify({
        callId,
        now: 1,
        entries: [{ key: 'k', amount: 5, expiresAt: null }],
        dedupeUntil: 1e15,
      })
      return (
        `POST /v1/commit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      )
    }
    const { port } = new URL(server.url)
    const socket = connect(Number(port), '127.0.0.1')
    let received = ''
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()))
    const closed = new Promise((resolve) => socket.on('close', resolve))
    await new Promise((resolve) => socket.once('connect', resolve))
    const first = commit('before-signal')
    socket.write(first.slice(0, first.length - 5))
    await new Promise((resolve) => setTimeout(resolve, 200))
    server.child.kill('SIGTERM')
    while (!server.output().includes('finishing in-flight')) await new Promise((resolve) => setTimeout(resolve, 20))
    socket.write(first.slice(first.length - 5) + commit('after-signal'))
    await closed
    const answers = received.split(/(?=HTTP\/1\.1 )/)
    expect(answers.map((a) => a.slice(0, 15))).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK'])
    expect(answers[0]).toMatch(/\r\nConnection: keep-alive\r\n/i)
    expect(answers[1]).toMatch(/\r\nConnection: close\r\n/i)
    expect(await server.exit).toBe(0)
  })

  it('with --store file:<dir>, data survives a restart', async () => {
    const data = join(dir, 'budget-data')
    const first = await serve(['--store', `file:${data}`, '--port', '0', '--token-file', tokenFile])
    expect(first.output()).toMatch(/store: file/)
    const a = httpStore({ url: first.url, token: TOKEN })
    await a.commit({
      callId: 'persist',
      now: 1,
      entries: [{ key: 'k', amount: 42, expiresAt: null }],
      dedupeUntil: 1e15,
    })
    await a.close()
    first.child.kill('SIGTERM')
    expect(await first.exit).toBe(0)
    const second = await serve(['--store', `file:${data}`, '--port', '0', '--token-file', tokenFile])
    const b = httpStore({ url: second.url, token: TOKEN })
    expect(await b.balances({ keys: ['k'], now: 2 })).toEqual([{ spent: 42, reserved: 0 }])
    await b.close()
    second.child.kill('SIGTERM')
    expect(await second.exit).toBe(0)
  })

  it('with --store redis://, two server processes share one ledger', async () => {
    const redis = await startRedisServer()
    try {
      const one = await serve(['--store', redis.url, '--port', '0', '--token-file', tokenFile])
      const two = await serve(['--store', redis.url, '--port', '0', '--token-file', tokenFile])
      expect(one.output()).toMatch(/store: redis 127\.0\.0\.1:/)
      const a = httpStore({ url: one.url, token: TOKEN })
      const b = httpStore({ url: two.url, token: TOKEN })
      const now = Date.now()
      const reserve = (store: typeof a, i: number) =>
        store.reserve({
          callId: `r${i}`,
          now,
          holdExpiresAt: now + 60_000,
          entries: [{ key: 'shared', amount: 1, limit: 10, expiresAt: null }],
        })
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => reserve(i % 2 === 0 ? a : b, i)))
      expect(results.filter((r) => r.ok).length).toBe(10)
      expect(await b.balances({ keys: ['shared'], now })).toEqual([{ spent: 0, reserved: 10 }])
      await a.close()
      await b.close()
      one.child.kill('SIGTERM')
      two.child.kill('SIGTERM')
      expect(await one.exit).toBe(0)
      expect(await two.exit).toBe(0)
    } finally {
      await redis.stop()
    }
  })
})
