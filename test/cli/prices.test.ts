// `llm-budget prices update`: LiteLLM-format tables from a temporary directory and from a local HTTP server on
// 127.0.0.1; the written file loads with catalog.load(). Writing ./llm-budget-prices.json and a failed download run the
// CLI as a real process (src/cli/main.ts bundled once per run: exit codes 0 and 1, the working directory, stdout and
// stderr as a shell sees them); the other tests run the same command in this process (runCliHere), without a Node start
// per run.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { calculateCost } from '../../src/cost/calculate.js'
import { PriceCatalog, defaultCatalog } from '../../src/cost/catalog.js'
import { InvalidInputError } from '../../src/errors.js'
import { runCli, runCliHere } from '../helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'llm-budget-prices-'))

/** Runs the CLI in this process, in `cwd`. */
const cli = (cwd: string, ...args: string[]) => runCliHere(args, { cwd })
/** Runs the CLI as a real process in `cwd`. */
const spawned = (cwd: string, ...args: string[]) => runCli(args, { cwd })

/** The bundled prices of gpt-4o-mini, unchanged; gpt-4o repriced; one new model; a LiteLLM non-model key. */
const mini = defaultCatalog.get('gpt-4o-mini')!
const TABLE = {
  sample_spec: { litellm_provider: 'one of https://docs.litellm.ai/docs/providers', input_cost_per_token: 0 },
  'gpt-4o': {
    litellm_provider: 'openai',
    mode: 'chat',
    max_output_tokens: 16384,
    input_cost_per_token: 0.000002,
    output_cost_per_token: '0.000008',
    cache_read_input_token_cost: 1e-6,
  },
  'gpt-4o-mini': {
    litellm_provider: mini.provider,
    mode: mini.mode,
    max_output_tokens: mini.maxOutputTokens,
    ...mini.prices,
  },
  'acme/house-model': {
    litellm_provider: 'openai',
    mode: 'chat',
    input_cost_per_token: '0.0000005',
    output_cost_per_token: 0.0000015,
  },
}
/** Bundled models that are not retired, minus the two the new table keeps. */
const removed = defaultCatalog.keys().filter((k) => !defaultCatalog.get(k)!.retired).length - 2

let server: Server
let base = ''
let requests = 0

beforeAll(async () => {
  writeFileSync(join(dir, 'litellm.json'), JSON.stringify(TABLE))
  writeFileSync(join(dir, 'not-json.json'), '{"gpt-4o": {"litellm_provider": "openai",')
  writeFileSync(
    join(dir, 'negative.json'),
    JSON.stringify({ ...TABLE, 'bad-model': { litellm_provider: 'openai', input_cost_per_token: -0.000001 } }),
  )
  writeFileSync(join(dir, 'array.json'), '[1, 2, 3]')
  writeFileSync(join(dir, 'no-models.json'), JSON.stringify({ sample_spec: { litellm_provider: 'x' } }))
  server = createServer((req, res) => {
    requests++
    // Each CLI run gets its own connection, as a new process would: runs in this process share fetch's connection
    // pool, where a kept-alive socket could be reused just as this server times it out (ECONNRESET).
    res.setHeader('connection', 'close')
    if (req.url === '/prices.json') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(TABLE))
    } else if (req.url === '/slow.json') {
      // Never answers: the CLI's --timeout must end the wait.
    } else if (req.url === '/negative.json') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(readFileSync(join(dir, 'negative.json')))
    } else {
      res.writeHead(404).end('not found')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

describe('llm-budget prices update', () => {
  it('from a file: writes ./llm-budget-prices.json, prints the changes and the data version', async () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'))
    const r = await spawned(cwd, 'prices', 'update', '--from', join(dir, 'litellm.json'))
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Read .*litellm\.json: 3 valid models\./)
    expect(r.stdout).toContain(`Against the bundled table ${defaultCatalog.dataVersion.id}:`)
    expect(r.stdout).toMatch(/added +1 +e\.g\. acme\/house-model\n/)
    expect(r.stdout).toMatch(/changed +1 +e\.g\. gpt-4o\n/)
    expect(r.stdout).toMatch(new RegExp(`removed +${removed} .*\\(kept, marked retired\\)`))
    const version = /Wrote (.+): data version (update@\d{4}-\d\d-\d\d\.[0-9a-f]{8}), (\d+) models/.exec(r.stdout)
    expect(version).not.toBeNull()
    expect(version![1]).toBe(join(cwd, 'llm-budget-prices.json'))

    // The file is the compact format and loads into a catalog: new prices win, other models stay (retired).
    const file = JSON.parse(readFileSync(join(cwd, 'llm-budget-prices.json'), 'utf8')) as {
      format: number
      dataVersion: { id: string; models: number }
    }
    expect(file.format).toBe(2)
    expect(file.dataVersion.id).toBe(version![2])
    const catalog = new PriceCatalog({ table: 'empty' })
    const loaded = await catalog.load(file)
    expect(loaded.id).toBe(version![2])
    expect(loaded.models).toBe(Number(version![3]))
    expect(catalog.get('gpt-4o')!.prices).toEqual({
      input_cost_per_token: '0.000002',
      output_cost_per_token: '0.000008',
      cache_read_input_token_cost: '0.000001',
    })
    expect(catalog.get('gpt-4o')!.retired).toBe(false)
    expect(catalog.get('gpt-4o-mini')!.prices).toEqual(mini.prices)
    expect(catalog.get('gpt-4o-2024-05-13')!.retired).toBe(true)
    expect(catalog.get('sample_spec')).toBeUndefined()
    // 1,000,000 * 0.0000005 + 100,000 * 0.0000015 = 0.65
    expect(
      calculateCost({ model: 'acme/house-model', usage: { inputTokens: 1_000_000, outputTokens: 100_000 }, catalog })
        .exact.totalCost,
    ).toBe('0.65')
    expect(
      calculateCost({ model: 'gpt-4o', usage: { inputTokens: 1000, outputTokens: 0 }, catalog }).exact.totalCost,
    ).toBe('0.002')
  })

  it('from a URL on a local HTTP server, with --out and --json', async () => {
    const out = join(dir, 'from-url.json')
    const r = await cli(
      dir,
      'prices',
      'update',
      '--from',
      `${base}/prices.json`,
      '--out',
      out,
      '--json',
      '--commit',
      'abc123',
    )
    expect(r.code).toBe(0)
    const summary = JSON.parse(r.stdout) as {
      from: string
      out: string
      models: number
      added: number
      changed: number
      removed: number
      dataVersion: { sources: Array<{ file: string; commit: string; role: string }> }
    }
    expect(summary).toMatchObject({ from: `${base}/prices.json`, out, models: 3, added: 1, changed: 1, removed })
    expect(summary.dataVersion.sources[0]).toMatchObject({
      file: `${base}/prices.json`,
      commit: 'abc123',
      role: 'current',
    })
    expect(summary.dataVersion.sources.slice(1).every((s) => s.role === 'retired')).toBe(true)
    await new PriceCatalog().load(JSON.parse(readFileSync(out, 'utf8')))
  })

  it('--dry-run validates and prints the changes but writes nothing', async () => {
    const cwd = mkdtempSync(join(dir, 'dry-'))
    const r = await cli(cwd, 'prices', 'update', '--from', join(dir, 'litellm.json'), '--dry-run')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Dry run: nothing written/)
    expect(existsSync(join(cwd, 'llm-budget-prices.json'))).toBe(false)
  })

  it.each([
    ['not-json.json', /not-json\.json is not valid JSON/],
    [
      'negative.json',
      /1 invalid entry:\n {2}bad-model: input_cost_per_token: price must be a finite number >= 0, got -0\.000001/,
    ],
    ['array.json', /must be a JSON object of model entries/],
    ['no-models.json', /the table has no model entries/],
  ])('invalid input %s: clear error, exit 2, the existing file untouched', async (name, message) => {
    const out = join(dir, `keep-${name}`)
    writeFileSync(out, 'previous contents')
    const r = await cli(dir, 'prices', 'update', '--from', join(dir, name), '--out', out)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).toMatch(/Nothing was written\./)
    expect(r.stdout).toBe('')
    expect(readFileSync(out, 'utf8')).toBe('previous contents')
  })

  it('a URL with negative prices is refused the same way', async () => {
    const out = join(dir, 'url-negative.json')
    const r = await cli(dir, 'prices', 'update', '--from', `${base}/negative.json`, '--out', out)
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/bad-model: input_cost_per_token/)
    expect(existsSync(out)).toBe(false)
  })

  it('download failures (HTTP 404, no answer within --timeout) exit 1 and write nothing', async () => {
    const out = join(dir, 'failed.json')
    const missing = await spawned(dir, 'prices', 'update', '--from', `${base}/missing.json`, '--out', out)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/missing\.json: HTTP 404/)
    const before = requests
    const slow = await spawned(
      dir,
      'prices',
      'update',
      '--from',
      `${base}/slow.json`,
      '--out',
      out,
      '--timeout',
      '1000',
    )
    expect(slow.code).toBe(1)
    expect(slow.stderr).toMatch(/no answer within 1000 ms/)
    // This process may see the request only after the CLI gave up on it, when the machine is busy.
    await vi.waitFor(() => expect(requests).toBe(before + 1))
    expect(existsSync(out)).toBe(false)
  })

  it.each([
    [['prices'], /missing subcommand/],
    [['prices', 'refresh', '--from', 'x'], /unknown subcommand "refresh"/],
    [['prices', 'update'], /--from <LiteLLM JSON path or URL> is required/],
    [['prices', 'update', '--from', 'no-such-file.json'], /cannot read --from no-such-file\.json: ENOENT/],
    [['prices', 'update', '--from', 'ftp://127.0.0.1/x.json'], /--from must be a file path or an http\(s\) URL/],
    [['prices', 'update', '--from', 'litellm.json', '--timeout', '0'], /--timeout must be/],
    [
      ['prices', 'update', '--from', 'litellm.json', '--out', 'no/such/dir/p.json'],
      /--out .*no\/such\/dir\/p\.json: the directory .*no\/such\/dir does not exist/,
    ],
    [['prices', 'update', '--from', 'litellm.json', '--bogus'], /unknown option --bogus/],
  ])('bad arguments exit 2: %j', async (args, message) => {
    const r = await cli(dir, ...args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('prices --help lists every option', async () => {
    const r = await cli(dir, 'prices', '--help')
    expect(r.code).toBe(0)
    for (const option of ['--from', '--out', '--timeout', '--commit', '--dry-run', '--json'])
      expect(r.stdout).toContain(option)
  })
})

describe('catalog.load (the price file format)', () => {
  const table = (): { rows: string; fields: string[]; dataVersion: Record<string, unknown> } & Record<
    string,
    unknown
  > => ({
    format: 2,
    dataVersion: { format: 'litellm', id: 'test@1', sources: [], models: 2, retired: 1 },
    license: 'MIT',
    providers: ['openai'],
    modes: ['chat'],
    fields: ['input_cost_per_token', 'output_cost_per_token'],
    rows: '\na-model\t0\t0\t0\t100\t0=0.000001\t1=0.000002\nold-model\t0\t0\t1\t0\t0=0.5\n',
  })

  it('loads a valid table, keeping registered prices', async () => {
    const catalog = new PriceCatalog({ table: 'empty' }).register('mine', { inputPerMillion: 1, outputPerMillion: 2 })
    expect((await catalog.load(table())).id).toBe('test@1')
    expect(catalog.get('a-model')!.prices).toEqual({
      input_cost_per_token: '0.000001',
      output_cost_per_token: '0.000002',
    })
    expect(catalog.get('old-model')!.retired).toBe(true)
    expect(catalog.resolve('mine').entry.source).toBe('custom')
  })

  it.each<[string, (t: ReturnType<typeof table>) => unknown, RegExp]>([
    [
      'a negative price',
      (t) => ({ ...t, rows: t.rows.replace('0=0.000001', '0=-0.000001') }),
      /input_cost_per_token must be a plain decimal >= 0/,
    ],
    ['a sentinel price', (t) => ({ ...t, rows: t.rows.replace('0=0.5', '0=10000') }), /sentinel/],
    [
      'a field index out of range',
      (t) => ({ ...t, rows: t.rows.replace('1=0.000002', '7=0.000002') }),
      /must be <field index>=<decimal>/,
    ],
    [
      'a provider index out of range',
      (t) => ({ ...t, rows: t.rows.replace('a-model\t0', 'a-model\t3') }),
      /provider index out of range/,
    ],
    ['a duplicate key', (t) => ({ ...t, rows: `${t.rows}a-model\t0\t0\t0\t0\n` }), /appears twice/],
    [
      'a wrong model count',
      (t) => ({ ...t, dataVersion: { ...t.dataVersion, models: 5 } }),
      /dataVersion\.models is 5/,
    ],
    [
      'an unknown field',
      (t) => ({ ...t, fields: ['input_cost_per_token', 'free_lunch'] }),
      /fields\.1: not a price field/,
    ],
    ['the wrong format', (t) => ({ ...t, format: 1 }), /format/],
    ['not an object', () => 'prices', /not a compact price table/],
  ])('rejects %s with InvalidInputError and keeps its table', async (_name, change, message) => {
    const catalog = new PriceCatalog()
    const before = catalog.dataVersion.id
    const error = await catalog.load(change(table())).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidInputError)
    expect((error as Error).message).toMatch(message)
    expect(catalog.dataVersion.id).toBe(before)
    expect(catalog.get('gpt-4o')).toBeDefined()
  })
})
