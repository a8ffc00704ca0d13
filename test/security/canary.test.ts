/**
 * SPEC 1 (principle 6) and 12: a canary string placed in every part of a prompt (system prompt, user
 * messages, content parts, tool definitions, tool-call arguments, tool results, the provider's own `metadata`
 * and `user` request fields, responses-API instructions, embedding input) and in every response text
 * never reaches any store, log, error, export, report or metric.
 *
 * End to end: calls go through `withBudget` (wrapping the real `openai` SDK) and `withOpenAIBudget` (the real
 * SDK, budgeted), streamed and not, completed, abandoned, cut by the server, refused by a budget and failed by
 * the provider, against a local OpenAI wire server, once for each store: `memoryStore`, `fileStore`,
 * `redisStore` (a real redis-server with an append-only file) and `httpStore` (a real `llm-budget serve`
 * child process backed by a file store). Then every byte the stores wrote is read back and searched.
 *
 * So that the test can fail, two controls: the wire server must have received the canary in every place it was
 * put (and the SDK must have returned it to the caller), and a second string (`CONTROL`), written through
 * the channels that store user text on purpose (a user id, budget metadata, a change reason, context
 * metadata), must be found by every scanner: a scanner that cannot see stored text would fail the control.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { format, inspect } from 'node:util'
import { Redis } from 'ioredis'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager, budgetMetrics, withBudget } from '../../src/index.js'
import { recordsToCsv, recordsToJsonLines, reportToCsv } from '../../src/reports.js'
import { SPEND_GROUP_BY } from '../../src/budget/records.js'
import { BudgetExceededError } from '../../src/errors.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'
import { fileStore } from '../../src/stores/file.js'
import { httpStore } from '../../src/stores/http.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { runCliHere, serveCli } from '../helpers/cli.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { startOpenAIServer, type WireServer } from '../integrations/servers/openai.js'

/** Unique per run; only letters, digits and dashes, so no store can hold it in an escaped form. */
const CORE = randomBytes(9).toString('hex')
const CANARY = `CANARY-${CORE}-never-store`
/** Written on purpose through channels that store user text: every scanner must find it. */
const CONTROL = `CONTROL-${randomBytes(9).toString('hex')}`
const TOKEN = `canary-token-${randomBytes(12).toString('hex')}`
const TENANT = 'canaryco'

/** Where the canary was put in requests: each must reach the wire server. */
const PLACES = {
  system: `system-prompt ${CANARY}`,
  user: `user-message ${CANARY}`,
  part: `content-part ${CANARY}`,
  toolDescription: `tool-description ${CANARY}`,
  toolArguments: `tool-arguments ${CANARY}`,
  toolResult: `tool-result ${CANARY}`,
  requestMetadata: `request-metadata ${CANARY}`,
  requestUser: `request-user-${CANARY}`,
  instructions: `instructions ${CANARY}`,
  responsesInput: `responses-input ${CANARY}`,
  embeddingInput: `embedding-input ${CANARY}`,
  thrown: `thrown-by-the-app ${CANARY}`,
}
const REPLY = `the reply quotes ${CANARY} back`

const work = mkdtempSync(join(tmpdir(), 'llm-budget-canary-'))
let wire: WireServer
let redis: RedisServer
let io: Redis

/** A place searched, how much was read, and what was found. */
interface Scan {
  place: string
  bytes: number
  canaryAt: string[]
  controlFound: boolean
}
const scans: Scan[] = []

function around(text: string, at: number): string {
  return JSON.stringify(text.slice(Math.max(0, at - 60), at + 80))
}

/** Search text (or bytes, as UTF-8 and UTF-16) for the canary's random core and the control string. */
function scan(place: string, content: string | Buffer): Scan {
  const variants =
    typeof content === 'string'
      ? [content]
      : [content.toString('utf8'), content.toString('utf16le'), content.toString('latin1')]
  const canaryAt: string[] = []
  let controlFound = false
  for (const text of variants) {
    const lower = text.toLowerCase()
    const at = lower.indexOf(CORE)
    if (at >= 0) canaryAt.push(around(text, at))
    if (text.includes(CONTROL)) controlFound = true
  }
  const result = {
    place,
    bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.length,
    canaryAt,
    controlFound,
  }
  scans.push(result)
  return result
}

function filesUnder(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...filesUnder(path))
    else if (entry.isFile()) out.push(path)
  }
  return out
}

/** Every byte of every file under `dir`, as one scan per file; returns the total. */
function scanDirectory(label: string, dir: string): { files: number; bytes: number; control: boolean } {
  let bytes = 0
  let control = false
  const files = filesUnder(dir)
  for (const file of files) {
    const s = scan(`${label} ${file.slice(dir.length + 1)}`, readFileSync(file))
    bytes += s.bytes
    control ||= s.controlFound
  }
  return { files: files.length, bytes, control }
}

/** Captures console output and direct stdout/stderr writes of this process while `run` runs. */
async function capturingOutput<T>(run: () => Promise<T>): Promise<{ value: T; output: string }> {
  const lines: string[] = []
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const
  const saved = methods.map((m) => [m, console[m]] as const)
  for (const m of methods) {
    console[m] = (...args: unknown[]) => {
      lines.push(format(...args))
    }
  }
  const writes = [process.stdout, process.stderr].map((stream) => {
    const original = stream.write.bind(stream)
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'))
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest)
    }) as typeof stream.write
    return () => {
      stream.write = original as typeof stream.write
    }
  })
  try {
    return { value: await run(), output: lines.join('\n') }
  } finally {
    for (const [m, fn] of saved) console[m] = fn
    for (const restore of writes) restore()
  }
}

const serve = (dataDir: string, tokenFile: string) =>
  serveCli(['--store', `file:${dataDir}`, '--port', '0', '--token-file', tokenFile])

// `llm-budget report` runs in this process (runCliHere collects what a process would print: the command's lines and
// anything written through console or to stdout/stderr); `llm-budget serve` below is a real process.
const cli = (...args: string[]) => runCliHere(args, { cwd: work })

/** `llm-budget report` in every format; each output is scanned. */
async function scanReports(label: string, store: string, extra: string[] = []): Promise<boolean> {
  let control = false
  for (const fmt of ['table', 'csv', 'jsonl', 'json']) {
    const variants: string[][] = [['--format', fmt]]
    if (fmt !== 'table')
      variants.push(['--format', fmt, '--group-by', 'day,model,modelServed,provider,user,team,endUser,tag,status'])
    for (const v of variants) {
      const result = await cli('report', '--store', store, ...extra, ...v)
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout.length).toBeGreaterThan(50)
      const found = scan(`${label} \`llm-budget report ${v.join(' ')}\` stdout`, result.stdout).controlFound
      // One row per record (csv, jsonl without --group-by) shows the control user id.
      if (v.length === 2 && fmt !== 'table' && fmt !== 'json')
        expect(found, `${label} report ${v.join(' ')} shows the control`).toBe(true)
      control = control || found
      scan(`${label} \`llm-budget report ${v.join(' ')}\` stderr`, result.stderr)
    }
  }
  return control
}

function sdk(): OpenAI {
  return new OpenAI({ apiKey: 'sk-canary', baseURL: `${wire.url}/v1`, maxRetries: 0 })
}

const tools = [
  {
    type: 'function' as const,
    function: {
      name: 'lookup',
      description: PLACES.toolDescription,
      parameters: { type: 'object', properties: { q: { type: 'string', description: PLACES.toolDescription } } },
    },
  },
]

/** A chat request carrying the canary in every place a prompt can hold text. */
function chatRequest() {
  return {
    model: 'gpt-4o-mini',
    max_tokens: 60,
    messages: [
      { role: 'system' as const, content: PLACES.system },
      { role: 'user' as const, content: PLACES.user },
      { role: 'user' as const, content: [{ type: 'text' as const, text: PLACES.part }] },
      {
        role: 'assistant' as const,
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function' as const,
            function: { name: 'lookup', arguments: JSON.stringify({ q: PLACES.toolArguments }) },
          },
        ],
      },
      { role: 'tool' as const, tool_call_id: 'call_1', content: PLACES.toolResult },
    ],
    tools,
    metadata: { note: PLACES.requestMetadata },
    user: PLACES.requestUser,
  }
}

type Caught = { error: unknown; thrownByApp: boolean }

/** Every kind of call, through both wrappers, against `manager`. Returns every error thrown and every text the caller got. */
async function runCalls(manager: BudgetManager): Promise<{ errors: Caught[]; replies: string[] }> {
  const errors: Caught[] = []
  const replies: string[] = []
  const attempt = async (run: () => Promise<void>, thrownByApp = false): Promise<void> => {
    try {
      await run()
    } catch (error) {
      errors.push({ error, thrownByApp })
    }
  }
  const collect = async (
    stream: AsyncIterable<{ choices: { delta?: { content?: string | null } }[] }>,
    stopAfter = Infinity,
  ) => {
    let text = ''
    let n = 0
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? ''
      if (++n >= stopAfter) break
    }
    replies.push(text)
  }

  // withOpenAIBudget: the real SDK, budgeted at its HTTP layer.
  const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice', team: 'search', tags: ['canary-test'] } })
  const broke = withOpenAIBudget(sdk(), { manager, context: { user: 'bob' } })
  await attempt(async () => {
    const completion = await openai.chat.completions.create(chatRequest())
    replies.push(completion.choices[0]?.message.content ?? '')
  })
  await attempt(async () => collect(await openai.chat.completions.create({ ...chatRequest(), stream: true })))
  await attempt(async () =>
    collect(
      await openai.chat.completions.create({ ...chatRequest(), stream: true, stream_options: { include_usage: true } }),
    ),
  )
  wire.enqueue({ text: REPLY, chunks: 12 })
  await attempt(async () => collect(await openai.chat.completions.create({ ...chatRequest(), stream: true }), 2))
  wire.enqueue({ text: REPLY, chunks: 12, cutAfterChunks: 3 })
  await attempt(async () => collect(await openai.chat.completions.create({ ...chatRequest(), stream: true })))
  wire.enqueue({ status: 400 })
  await attempt(async () => void (await openai.chat.completions.create(chatRequest())))
  await attempt(async () => void (await broke.chat.completions.create(chatRequest())))
  await attempt(async () => {
    const response = await openai.responses.create({
      model: 'gpt-4o-mini',
      instructions: PLACES.instructions,
      input: PLACES.responsesInput,
      max_output_tokens: 60,
      metadata: { note: PLACES.requestMetadata },
    })
    replies.push(response.output_text)
  })
  await attempt(async () => {
    const stream = await openai.responses.create({
      model: 'gpt-4o-mini',
      instructions: PLACES.instructions,
      input: [{ role: 'user', content: PLACES.responsesInput }],
      max_output_tokens: 60,
      stream: true,
    })
    let text = ''
    for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta
    replies.push(text)
  })
  await attempt(
    async () =>
      void (await openai.embeddings.create({
        model: 'text-embedding-3-small',
        input: [PLACES.embeddingInput, PLACES.user],
      })),
  )

  // withBudget around the plain SDK.
  const plain = sdk()
  const chat = withBudget(
    (request: ReturnType<typeof chatRequest> & { stream?: boolean; stream_options?: { include_usage: boolean } }) =>
      plain.chat.completions.create(request),
    {
      manager,
      context: { user: 'alice', endUser: 'end-1', tags: ['canary-test'] },
    },
  )
  const chatBob = withBudget((request: ReturnType<typeof chatRequest>) => plain.chat.completions.create(request), {
    manager,
    context: { user: 'bob' },
  })
  await attempt(async () => {
    const completion = (await chat(chatRequest())) as OpenAI.Chat.ChatCompletion
    replies.push(completion.choices[0]?.message.content ?? '')
  })
  await attempt(async () =>
    collect(
      (await chat({
        ...chatRequest(),
        stream: true,
        stream_options: { include_usage: true },
      })) as AsyncIterable<OpenAI.Chat.ChatCompletionChunk>,
    ),
  )
  wire.enqueue({ text: REPLY, chunks: 12 })
  await attempt(async () =>
    collect(
      (await chat({
        ...chatRequest(),
        stream: true,
        stream_options: { include_usage: true },
      })) as AsyncIterable<OpenAI.Chat.ChatCompletionChunk>,
      2,
    ),
  )
  wire.enqueue({ status: 500 })
  await attempt(async () => void (await chat(chatRequest())))
  await attempt(async () => void (await chatBob(chatRequest())))
  // The app's own function throws an error that quotes the prompt: it is rethrown as is (the caller's own
  // text), but the release must not copy it anywhere.
  const throwing = withBudget(
    async (request: ReturnType<typeof chatRequest>) => {
      throw new Error(`${PLACES.thrown} while handling ${request.messages.length} messages`)
    },
    { manager, context: { user: 'alice' }, estimate: 0.0001 },
  )
  await attempt(async () => void (await throwing(chatRequest())), true)
  // A threshold alert and an exceeded event for good measure.
  const budgetSpender = withBudget(
    async (_request: ReturnType<typeof chatRequest>) => ({
      model: 'gpt-4o-mini',
      usage: { prompt_tokens: 10, completion_tokens: 5 },
      text: REPLY,
    }),
    {
      manager,
      context: { user: 'alice' },
      estimate: 0.00001,
    },
  )
  await attempt(async () => void replies.push((await budgetSpender(chatRequest())).text))
  return { errors, replies }
}

/** The control: user text stored on purpose, through a user id, budget metadata, a reason and context metadata. */
async function writeControl(manager: BudgetManager): Promise<void> {
  await manager.setBudget(
    { type: 'team', id: 'control' },
    { maxBudget: 10, metadata: { note: CONTROL } },
    { reason: CONTROL },
  )
  await manager.record({ user: CONTROL, team: 'control', metadata: { note: CONTROL } }, 0.001)
}

/** Everything the manager's API and exports show, scanned as one text per view. */
async function scanManagerViews(label: string, manager: BudgetManager): Promise<boolean> {
  const groupBy = [...SPEND_GROUP_BY]
  const records = await manager.spendRecords({})
  expect(records.length).toBeGreaterThanOrEqual(10)
  const report = await manager.querySpend({ groupBy })
  const views: Record<string, string> = {
    records: JSON.stringify(records),
    'records CSV export': recordsToCsv(records),
    'records JSONL export': recordsToJsonLines(records),
    'report (every groupBy)': JSON.stringify(report),
    'report CSV export': reportToCsv(report, groupBy),
    statuses: JSON.stringify(
      await Promise.all((['user:alice', 'user:bob', 'team:control'] as const).map((s) => manager.getStatus(s))),
    ),
    budgets: JSON.stringify(
      await Promise.all((['user:alice', 'user:bob', 'team:control'] as const).map((s) => manager.getBudget(s))),
    ),
    history: JSON.stringify(
      await Promise.all((['user:alice', 'user:bob', 'team:control'] as const).map((s) => manager.getHistory(s))),
    ),
    users: JSON.stringify(await manager.getUsers()),
  }
  let control = false
  for (const [name, text] of Object.entries(views)) {
    const found = scan(`${label} ${name}`, text).controlFound
    if (['records', 'records CSV export', 'records JSONL export', 'budgets', 'history'].includes(name))
      expect(found, `${label} ${name} shows the control`).toBe(true)
    control = control || found
  }
  return control
}

async function setBudgets(manager: BudgetManager): Promise<void> {
  await manager.setBudget('user:alice', { maxBudget: 50, duration: 'daily', alertThresholds: [0.0000001, 0.5] })
  await manager.setBudget('user:bob', { maxBudget: 0.000001, duration: 'monthly' })
}

interface Outcome {
  events: string
  errors: Caught[]
  replies: string[]
  output: string
}

/** Runs every call against a manager on `store`, capturing events, errors, replies and console output. */
async function exercise(
  label: string,
  store: BudgetStore,
): Promise<{ manager: BudgetManager; outcome: Outcome; metrics: string }> {
  const manager = new BudgetManager({ store })
  const events: unknown[] = []
  for (const name of [
    'budget.exceeded',
    'budget.overshot',
    'threshold.crossed',
    'spend.recorded',
    'store.error',
    'budget.changed',
    'listener.error',
  ] as const) {
    manager.on(name, (e) => void events.push({ name, e }))
  }
  const metrics = budgetMetrics(manager)
  const { value, output } = await capturingOutput(async () => {
    await setBudgets(manager)
    const result = await runCalls(manager)
    await writeControl(manager)
    return result
  })
  const names = new Set(events.map((e) => (e as { name: string }).name))
  // The calls really took every path: spend recorded, thresholds crossed, refusals raised.
  expect([...names].sort(), label).toEqual(
    expect.arrayContaining(['budget.changed', 'budget.exceeded', 'spend.recorded', 'threshold.crossed']),
  )
  return {
    manager,
    outcome: {
      events: inspect(events, { depth: 12, breakLength: Infinity }),
      errors: value.errors,
      replies: value.replies,
      output,
    },
    metrics: metrics.text(),
  }
}

/** Checks the outcome of {@link exercise} and scans its events, errors and console output. */
function checkOutcome(label: string, outcome: Outcome, metrics: string): void {
  // Positive control: the caller got the canary back from the provider, through the wrappers.
  expect(
    outcome.replies.filter((r) => r.includes(CORE)).length,
    `${label} replies carrying the canary`,
  ).toBeGreaterThanOrEqual(7)
  const budgetErrors = outcome.errors.filter((c) => c.error instanceof BudgetExceededError)
  expect(budgetErrors.length, `${label} refusals`).toBe(2)
  expect(outcome.errors.length, `${label} errors`).toBe(6) // 2 refusals, 400, 500, a cut stream, the app's own error
  for (const { error, thrownByApp } of outcome.errors) {
    if (thrownByApp) {
      // The app's own error comes back untouched: the same message, nothing added.
      expect((error as Error).message).toBe(`${PLACES.thrown} while handling 5 messages`)
      continue
    }
    const e = error as Error & { cause?: unknown }
    scan(
      `${label} error ${e.name}: message, stack, fields, cause`,
      [
        e.message,
        e.stack ?? '',
        inspect(e, { depth: 8, showHidden: true, breakLength: Infinity }),
        JSON.stringify({ ...e }),
      ].join('\n'),
    )
  }
  scan(`${label} events (every event name)`, outcome.events)
  scan(`${label} console and stdout/stderr of the test process`, outcome.output)
  scan(`${label} budgetMetrics text`, metrics)
  expect(metrics).toContain('llm_budget_')
}

beforeAll(async () => {
  wire = await startOpenAIServer()
  wire.reset({ text: REPLY, chunks: 4, usage: { input: 900, output: 40, cacheRead: 0 } })
  redis = await startRedisServer({ appendonly: true })
  io = new Redis(redis.port, '127.0.0.1')
})

afterAll(async () => {
  io?.disconnect()
  await wire?.close()
  await redis?.stop()
  rmSync(work, { recursive: true, force: true })
})

function expectClean(prefix: string): void {
  const mine = scans.filter((s) => s.place.startsWith(prefix))
  expect(mine.length).toBeGreaterThan(0)
  const leaks = mine.filter((s) => s.canaryAt.length > 0).map((s) => `${s.place}: ${s.canaryAt.join(' | ')}`)
  expect(leaks).toEqual([])
}

function bytesScanned(prefix: string): { places: number; bytes: number } {
  const mine = scans.filter((s) => s.place.startsWith(prefix))
  return { places: mine.length, bytes: mine.reduce((n, s) => n + s.bytes, 0) }
}

describe('a canary in prompts and replies reaches no store, log, error, export or report', () => {
  it('memoryStore', async () => {
    const store = memoryStore()
    const { manager, outcome, metrics } = await exercise('memory', store)
    checkOutcome('memory', outcome, metrics)
    expect(await scanManagerViews('memory', manager)).toBe(true)
    const raw = JSON.stringify({ budgets: await store.listBudgets(), records: await store.queryRecords({}) })
    expect(scan('memory store.listBudgets + store.queryRecords', raw).controlFound).toBe(true)
    expectClean('memory')
    console.info('canary memory:', bytesScanned('memory'))
  })

  it('fileStore: every byte of every file in its directory', async () => {
    const dir = join(work, 'file-store')
    const store = fileStore({ path: dir })
    const { manager, outcome, metrics } = await exercise('file', store)
    checkOutcome('file', outcome, metrics)
    expect(await scanManagerViews('file', manager)).toBe(true)
    await store.close()
    const files = scanDirectory('file', dir)
    expect(files.files).toBeGreaterThan(0)
    expect(files.bytes).toBeGreaterThan(1000)
    expect(files.control, 'the control string is found in the store files').toBe(true)
    expect(await scanReports('file', `file:${dir}`)).toBe(true)
    expectClean('file')
    console.info('canary file:', { ...bytesScanned('file'), storeFiles: files.files, storeBytes: files.bytes })
  })

  it('redisStore: every key (typed read and DUMP) and the append-only file', async () => {
    const store = redisStore({ client: io })
    const { manager, outcome, metrics } = await exercise('redis', store)
    checkOutcome('redis', outcome, metrics)
    expect(await scanManagerViews('redis', manager)).toBe(true)
    let cursor = '0'
    const keys: string[] = []
    do {
      const [next, batch] = await io.scan(cursor, 'COUNT', 1000)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0')
    expect(keys.length).toBeGreaterThan(5)
    let control = false
    let keyBytes = 0
    for (const key of keys) {
      const type = await io.type(key)
      let value: unknown
      if (type === 'string') value = await io.getBuffer(key)
      else if (type === 'hash') value = await io.hgetallBuffer(key)
      else if (type === 'zset') value = await io.call('ZRANGE', key, '0', '-1', 'WITHSCORES')
      else if (type === 'list') value = await io.lrange(key, 0, -1)
      else if (type === 'set') value = await io.smembers(key)
      else if (type === 'stream') value = await io.xrange(key, '-', '+')
      else if (type !== 'none') throw new Error(`unexpected Redis type ${type} at ${key}`)
      const dumped = (await io.dumpBuffer(key)) ?? Buffer.alloc(0)
      const text = `${key}\n${type}\n${inspect(value, { depth: 8, maxArrayLength: Infinity, maxStringLength: Infinity, breakLength: Infinity })}`
      const s = scan(`redis key ${key}`, Buffer.concat([Buffer.from(text), Buffer.from('\n'), dumped]))
      keyBytes += s.bytes
      control ||= s.controlFound
    }
    expect(control, 'the control string is found in Redis').toBe(true)
    await io.call('BGREWRITEAOF').catch(() => undefined) // the rewritten AOF too, when it finishes in time; the incremental one holds every write
    const aof = scanDirectory('redis aof', redis.dir)
    expect(aof.control, 'the control string is found in the append-only file').toBe(true)
    expect(await scanReports('redis', redis.url)).toBe(true)
    await store.close()
    expectClean('redis')
    console.info('canary redis:', {
      ...bytesScanned('redis'),
      keys: keys.length,
      keyBytes,
      aofFiles: aof.files,
      aofBytes: aof.bytes,
    })
  })

  it('httpStore against `llm-budget serve` on a file store: server files, server output, management answers', async () => {
    const data = join(work, 'server-data')
    const tokenFile = join(work, 'tokens.txt')
    writeFileSync(tokenFile, `${TOKEN} ${TENANT}\n`)
    const server = await serve(data, tokenFile)
    const store = httpStore({ url: server.url, token: TOKEN })
    try {
      const { manager, outcome, metrics } = await exercise('http', store)
      checkOutcome('http', outcome, metrics)
      expect(await scanManagerViews('http', manager)).toBe(true)
      const get = async (path: string): Promise<string> => {
        const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })
        const text = await res.text()
        expect(res.status, `${path}: ${text.slice(0, 200)}`).toBe(200)
        return text
      }
      let control = false
      const paths = [
        '/spend/logs',
        '/spend/logs?format=csv',
        '/spend/logs?format=jsonl',
        '/spend/logs?limit=1000',
        '/spend/report',
        '/spend/report?groupBy=day,model,modelServed,provider,user,team,endUser,tag,status',
        '/metrics',
        '/budget/info?scope=team:control',
        '/budget/info?scope=user:alice',
      ]
      for (const path of paths) {
        const found = scan(`http server GET ${path}`, await get(path)).controlFound
        control = control || found
      }
      expect(control, 'the control string is found in the server answers').toBe(true)
    } finally {
      await store.close()
      server.child.kill('SIGTERM')
    }
    expect(await server.exit).toBe(0)
    scan('http server stdout+stderr', server.output())
    expect(server.output()).toMatch(/listening on/)
    const files = scanDirectory('http server file', data)
    expect(files.files).toBeGreaterThan(0)
    expect(files.control, 'the control string is found in the server files').toBe(true)
    expect(await scanReports('http server', `file:${data}`, ['--tenant', TENANT])).toBe(true)
    expectClean('http')
    console.info('canary http:', { ...bytesScanned('http'), serverFiles: files.files, serverBytes: files.bytes })
  })

  it('control: the wire server received the canary in every place it was put, and sent it back', () => {
    const raw = wire.requests.map((r) => r.raw).join('\n')
    for (const [place, text] of Object.entries(PLACES)) {
      if (place === 'thrown') continue
      expect(raw, place).toContain(text)
    }
    expect(wire.requests.length).toBeGreaterThanOrEqual(4 * 13)
    expect(scans.filter((s) => s.place.startsWith('http server GET')).length).toBeGreaterThan(0)
    const total = scans.reduce((n, s) => n + s.bytes, 0)
    const store = (p: string) => statSync(join(work, p), { throwIfNoEntry: false }) !== undefined
    expect(store('file-store') && store('server-data')).toBe(true)
    console.info('canary total:', { places: scans.length, bytes: total, wireRequests: wire.requests.length })
  })
})
