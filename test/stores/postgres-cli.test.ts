// The CLI against a real PostgreSQL: `migrate` creates and then reports a current schema, `serve --store
// postgres://...` serves the HTTP store's operations from PostgreSQL (data survives a restart of the server), and
// `report --store postgres://...` prints the spend; `report` refuses a database that was never migrated.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpStore } from '../../src/stores/http.js'
import { bundledEntry } from '../helpers/entries.js'
import { type PostgresServer, startPostgresServer } from '../helpers/postgres-server.js'

const MAIN = bundledEntry('cli') // src/cli/main.ts, bundled once per run
const TOKEN = 'pg-cli-token-0123456789abcdef'
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-pg-cli-'))
const tokenFile = join(dir, 'tokens.txt')
writeFileSync(tokenFile, `${TOKEN} acme\n`)

let server: PostgresServer
let admin: pg.Pool

beforeAll(async () => {
  server = await startPostgresServer()
  admin = new pg.Pool({ connectionString: server.url, max: 2 })
  admin.on('error', () => undefined)
  await admin.query('CREATE DATABASE budget')
  await admin.query('CREATE DATABASE empty')
}, 60_000)

afterAll(async () => {
  await admin?.end()
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const dbUrl = (name: string): string => server.url.replace(/\/postgres$/, `/${name}`)

function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })))
}

async function serve(): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [MAIN, 'serve', '--store', dbUrl('budget'), '--token-file', tokenFile, '--port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8')
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) resolve(match[1]!)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exit.then(() => reject(new Error(`serve exited: ${output}`)))
  })
  return {
    url,
    stop: () => {
      child.kill('SIGTERM')
      return exit
    },
  }
}

describe('llm-budget with --store postgres://', () => {
  it('migrate creates the schema once, then says it is current', async () => {
    const first = await cli(['migrate', '--store', dbUrl('budget')])
    expect(first).toMatchObject({ code: 0 })
    expect(first.output).toMatch(/schema version 0 -> 1 \(applied 1\)/)
    const again = await cli(['migrate', '--store', dbUrl('budget')])
    expect(again.output).toMatch(/schema version 1, already current/)
    expect((await cli(['migrate', '--store', 'file:./x'])).code).toBe(2)
  }, 60_000)

  it('serve keeps spend in PostgreSQL across a restart; report prints it', async () => {
    const first = await serve()
    const client = httpStore({ url: first.url, token: TOKEN })
    const now = Date.UTC(2026, 10, 29, 12)
    const record = {
      callId: 'pg-1',
      startedAt: now - 5,
      endedAt: now,
      model: 'gpt-4o',
      modelServed: 'gpt-4o',
      costNanoUsd: 1_250_000_000,
      cost: '1.250000000',
      status: 'success',
      estimated: false,
      context: { user: 'alice' },
    }
    await client.commit({
      callId: 'pg-1',
      now,
      entries: [{ key: 'u:alice|all|usd', amount: 1_250_000_000, expiresAt: null }],
      dedupeUntil: now + 60_000,
      record,
    })
    await client.close()
    expect(await first.stop()).toBe(0)
    const second = await serve()
    const again = httpStore({ url: second.url, token: TOKEN })
    expect(await again.balances({ keys: ['u:alice|all|usd'], now })).toEqual([{ spent: 1_250_000_000, reserved: 0 }])
    await again.close()
    expect(await second.stop()).toBe(0)
    const report = await cli(['report', '--store', dbUrl('budget'), '--format', 'json'])
    expect(report.code).toBe(0)
    expect(report.output).toContain('1.250000000')
  }, 120_000)

  it('report refuses a database that was never migrated, and creates nothing', async () => {
    const result = await cli(['report', '--store', dbUrl('empty')])
    expect(result.code).toBe(1)
    expect(result.output).toMatch(/llm-budget migrate/)
    const emptyPool = new pg.Pool({ connectionString: dbUrl('empty'), max: 1 })
    // If this test times out, the server stops under this pool's idle client: an error event, not a crash.
    emptyPool.on('error', () => undefined)
    try {
      const { rows } = await emptyPool.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'llm_budget%'`,
      )
      expect(rows[0].n).toBe(0)
    } finally {
      await emptyPool.end()
    }
  }, 60_000)
})
