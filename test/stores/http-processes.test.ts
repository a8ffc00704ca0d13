// httpStore from real client processes against a real server on 127.0.0.1: concurrency across processes,
// a lossy TCP proxy, and a server process outage with the outbox (also across a client kill -9).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import {
  createServer as createTcpServer,
  connect,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { startBudgetServer, type RunningBudgetServer } from '../helpers/budget-server.js'
import { serveCli } from '../helpers/cli.js'
import { bundledEntry } from '../helpers/entries.js'
import { freePort } from '../helpers/redis-server.js'

const TOKEN = 'process-test-token-0123456789'
const WORKER = bundledEntry('http-client-worker') // http-workers/client.ts, bundled once per run
const T0 = 1_800_000_000_000
const AMOUNT = 10_000_000 // $0.01

let store: BudgetStore
let server: RunningBudgetServer
let port = 0
let url = ''
let dir = ''

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llm-budget-http-'))
  store = memoryStore({ maxRecords: Number.POSITIVE_INFINITY })
  server = await startBudgetServer({ store, auth: { tokens: { [TOKEN]: 't' } } })
  port = server.port
  url = server.url
})

afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Worker {
  child: ChildProcess
  lines: string[]
  exited: Promise<number | null>
  waitFor(predicate: (lines: string[]) => boolean): Promise<void>
}

function startWorker(options: Record<string, unknown>): Worker {
  const child = spawn(process.execPath, [WORKER, JSON.stringify({ token: TOKEN, ...options })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines: string[] = []
  const waiters: { predicate: (lines: string[]) => boolean; resolve: () => void }[] = []
  let buffer = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8')
    const parts = buffer.split('\n')
    buffer = parts.pop()!
    lines.push(...parts)
    for (const w of [...waiters]) if (w.predicate(lines)) w.resolve()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    lines,
    exited,
    waitFor: (predicate) =>
      predicate(lines)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ predicate, resolve })
            void exited.then(() =>
              predicate(lines)
                ? resolve()
                : reject(new Error(`worker exited; last lines: ${lines.slice(-5).join(' | ')}`)),
            )
          }),
  }
}

const ids = (lines: string[], event: string): string[] =>
  lines.filter((l) => l.startsWith(`${event} `)).map((l) => l.split(' ')[1]!)

async function recordsWithPrefix(prefix: string): Promise<string[]> {
  return (await store.queryRecords({}))
    .map((r) => r.callId)
    .filter((id) => id.startsWith(`t/${prefix}`))
    .map((id) => id.slice(2))
}

describe('httpStore from several processes', () => {
  it('4 processes x 250 concurrent calls of $0.01 against $5: exactly 500 admitted, spent exactly 5000000000 nano', async () => {
    const key = 'burst|usd'
    const workers = Array.from({ length: 4 }, (_, w) =>
      startWorker({
        mode: 'calls',
        url,
        key,
        prefix: `burst${w}-`,
        calls: 250,
        limit: 5_000_000_000,
        timeoutMs: 30_000,
        retries: 5,
        failureThreshold: 1000,
      }),
    )
    const codes = await Promise.all(workers.map((w) => w.exited))
    expect(codes).toEqual([0, 0, 0, 0])
    const admitted = workers.flatMap((w) => ids(w.lines, 'admitted'))
    const refused = workers.flatMap((w) => ids(w.lines, 'refused'))
    expect(admitted.length).toBe(500)
    expect(refused.length).toBe(500)
    expect(workers.flatMap((w) => ids(w.lines, 'denied'))).toEqual([])
    expect(await store.balances({ keys: [`t/${key}`], now: T0 + 2 })).toEqual([{ spent: 5_000_000_000, reserved: 0 }])
  }, 180_000)

  it('a proxy that drops 20% of responses after the server answered: no double count, nothing lost', async () => {
    // Counted in operations: a batch answer carries one result per operation (`{"status":...}` in version 1,
    // `[status,{...}]` in version 2).
    const operationsIn = (chunk: Buffer): number => {
      const text = chunk.toString('latin1')
      return Math.max(1, text.split('{"status":').length - 1 + (text.match(/\[\d{3},\{/g)?.length ?? 0))
    }
    let droppedResponses = 0
    let forwarded = 0
    let responses = 0
    const sockets = new Set<Socket>()
    const proxy: TcpServer = createTcpServer((client) => {
      const upstream = connect(port, '127.0.0.1')
      sockets.add(client).add(upstream)
      let awaitingResponse = false
      client.on('data', (chunk) => {
        awaitingResponse = true
        upstream.write(chunk)
      })
      upstream.on('data', (chunk) => {
        if (awaitingResponse) {
          awaitingResponse = false
          // Every fifth response, not a random fifth: batches make responses few (20 at least: 500 calls of two
          // operations, 50 in flight), and a random fifth of them sometimes dropped too few to exercise the retries.
          if (++responses % 5 === 0) {
            // The server has answered; the client never sees it.
            droppedResponses++
            client.destroy()
            upstream.destroy()
            return
          }
          forwarded += operationsIn(chunk)
        }
        client.write(chunk)
      })
      const end = (): void => {
        client.destroy()
        upstream.destroy()
        sockets.delete(client)
        sockets.delete(upstream)
      }
      client.on('error', end).on('close', end)
      upstream.on('error', end).on('close', end)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    try {
      const key = 'lossy|usd'
      const worker = startWorker({
        mode: 'calls',
        url: proxyUrl,
        key,
        prefix: 'lossy-',
        calls: 500,
        concurrency: 50,
        retries: 12,
        failureThreshold: 1000,
      })
      expect(await worker.exited).toBe(0)
      expect(droppedResponses).toBeGreaterThanOrEqual(4)
      expect(forwarded).toBeGreaterThan(500)
      const admitted = ids(worker.lines, 'admitted')
      const committed = ids(worker.lines, 'committed')
      expect(admitted.length).toBe(500)
      expect(new Set(committed)).toEqual(new Set(admitted))
      const records = await recordsWithPrefix('lossy-')
      expect(records.length).toBe(500) // 0 double counts
      expect(new Set(records)).toEqual(new Set(admitted)) // 0 lost
      expect(await store.balances({ keys: [`t/${key}`], now: T0 + 2 })).toEqual([{ spent: 500 * AMOUNT, reserved: 0 }])
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => proxy.close(resolve))
    }
  }, 180_000)

  it('the server process stopped for 5 s during 500 calls: reserves are denied, commits wait in the outbox (also across kill -9) and are delivered once', async () => {
    // A real server process (`llm-budget serve`) on a durable file store, stopped with SIGTERM and restarted.
    const tokenFile = join(dir, 'tokens.txt')
    writeFileSync(tokenFile, `${TOKEN} t\n`)
    const servePort = await freePort()
    const serveArgs = [
      '--store',
      `file:${join(dir, 'server-data')}`,
      '--port',
      String(servePort),
      '--token-file',
      tokenFile,
    ]
    const startServer = async (): Promise<ChildProcess> => (await serveCli(serveArgs)).child
    const serverUrl = `http://127.0.0.1:${servePort}`
    let serverProcess = await startServer()
    const key = 'outage|usd'
    // A 3 s timeout: at a load average of 15 a request to the live server took over 1 s, so one client's calls were
    // denied before the outage and it never reached the 80 admitted calls the outage waits for.
    // The commits of the calls admitted after each client's 80th wait until the server process has exited: with a
    // plain 150 ms latency, at a load average of 10 the server's graceful shutdown (it answers the requests on busy
    // connections) outlasted the latency, so every commit of one client was answered and none waited in its outbox.
    const commitGate = { after: 80, file: join(dir, 'server-stopped') }
    const common = {
      url: serverUrl,
      key,
      calls: 500,
      concurrency: 40,
      latencyMs: 150,
      retries: 2,
      timeoutMs: 3000,
      commitGate,
    }
    const startFile = join(dir, 'go')
    const a = startWorker({ ...common, mode: 'calls', prefix: 'outA-', outbox: join(dir, 'a.jsonl'), startFile })
    const b = startWorker({
      ...common,
      mode: 'calls',
      prefix: 'outB-',
      outbox: join(dir, 'b.jsonl'),
      hang: true,
      startFile,
    })
    try {
      // Both clients start together, so the outage falls inside both runs.
      await Promise.all([a, b].map((w) => w.waitFor((lines) => lines.includes('ready'))))
      writeFileSync(startFile, '')
      // Stop the server once both clients hold a commit (each has admitted more than 80 calls), then let the held
      // commits go: they meet the stopped server.
      await Promise.all([a, b].map((w) => w.waitFor((lines) => ids(lines, 'held').length > 0)))
      serverProcess.kill('SIGTERM')
      await new Promise((resolve) => serverProcess.once('exit', resolve))
      const stoppedAt = Date.now()
      writeFileSync(commitGate.file, '')
      // B: once its in-flight commits went to its outbox file, kill -9 it while the server is down.
      await b.waitFor((lines) => lines.includes('calls-done'))
      b.child.kill('SIGKILL')
      await b.exited
      await a.waitFor((lines) => lines.includes('calls-done'))
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5000 - (Date.now() - stoppedAt))))
      serverProcess = await startServer()
      // A delivers its own outbox; a new process delivers what B left in its file.
      expect(await a.exited).toBe(0)
      const c = startWorker({ mode: 'drain', url: serverUrl, key, prefix: 'outB-', outbox: join(dir, 'b.jsonl') })
      expect(await c.exited).toBe(0)

      const reader = httpStore({ url: serverUrl, token: TOKEN })
      const records = (await reader.queryRecords({})).map((r) => r.callId)
      const queuedOf = (w: Worker): string[] =>
        ids(w.lines, 'committed').filter((id) => w.lines.includes(`committed ${id} queued`))
      for (const [worker, prefix] of [
        [a, 'outA-'],
        [b, 'outB-'],
      ] as const) {
        const admitted = new Set(ids(worker.lines, 'admitted'))
        const denied = ids(worker.lines, 'denied')
        const mine = records.filter((id) => id.startsWith(prefix))
        // Admission during the outage followed the policy (deny): calls were refused with StorageError, and no
        // call was admitted without the server's answer.
        expect(denied.length, prefix).toBeGreaterThan(0)
        expect(
          worker.lines.filter((l) => l.startsWith('denied ')).every((l) => l.endsWith(' STORAGE')),
          prefix,
        ).toBe(true)
        if (worker === a) expect(admitted.size + denied.length + ids(a.lines, 'refused').length).toBe(500)
        // Commits waited in the outbox: at least every commit held until the server had stopped.
        const queued = queuedOf(worker)
        expect(queued.length, prefix).toBeGreaterThan(0)
        for (const id of ids(worker.lines, 'held')) expect(queued, `${prefix} ${id}`).toContain(id)
        // Every commit the client saw resolve is on the server exactly once; nothing else is.
        expect(new Set(mine).size, prefix).toBe(mine.length)
        for (const id of ids(worker.lines, 'committed')) expect(mine, `${prefix} ${id}`).toContain(id)
        for (const id of mine) expect(admitted.has(id), `${prefix} ${id}`).toBe(true)
      }
      const total = records.filter((id) => id.startsWith('outA-') || id.startsWith('outB-')).length
      expect(await reader.balances({ keys: [key], now: T0 + 120_000 })).toEqual([
        { spent: total * AMOUNT, reserved: 0 },
      ])
      await reader.close()
    } finally {
      a.child.kill('SIGKILL')
      b.child.kill('SIGKILL')
      serverProcess.kill('SIGTERM')
      await new Promise((resolve) =>
        serverProcess.exitCode === null ? serverProcess.once('exit', resolve) : resolve(null),
      )
    }
  }, 240_000) // a hang bound: real processes, a 5 s outage and a restart (45 s alone at a load average of 15)
})
