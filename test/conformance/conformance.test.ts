/**
 * The conformance suite: every path through every exit, against the local wire servers, with the same record
 * semantics everywhere. Each cell makes one call and then checks:
 * - the outcome: a spend record with the expected `status` and `estimated` and a cost above $0, or a typed error;
 * - exactly one `spend.recorded` event for a call that reached the provider, none for one that did not;
 * - every hold back to 0.
 * Exits that only a stream has (`break`, abort mid-way, the server cutting it) are not cells of the non-streamed paths;
 * `retry` (a 500, retried by the SDK: two attempts, each reserved, one charge) is a cell of the paths whose SDK retries
 * per attempt under the budget.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { isBudgetError, isBudgetExceededError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { startAnthropicServer } from '../integrations/servers/anthropic.js'
import { startMistralServer } from '../integrations/servers/mistral.js'
import { startCohereServer } from '../integrations/servers/cohere.js'
import { startGroqServer } from '../integrations/servers/groq.js'
import { startOpenRouterServer } from '../integrations/servers/openrouter.js'
import type { Behavior } from '../integrations/servers/base.js'
import { startBedrockServer } from '../integrations/servers/bedrock.js'
import { startGoogleServer } from '../integrations/servers/google.js'
import { startOpenAIServer } from '../integrations/servers/openai.js'
import { PATHS, type Ending, type Path, type Servers } from './paths.js'

/** The ways a call can end. */
const EXITS = [
  'usage present',
  'usage absent',
  'break',
  'abort',
  'stream cut',
  'retry',
  'server error',
  'refusal',
  'fallback',
] as const
type Exit = (typeof EXITS)[number]

const STREAM_ONLY: ReadonlySet<Exit> = new Set(['break', 'abort', 'stream cut'])

/** Whether a cell applies: stream-only exits on streamed paths, `retry` on paths whose SDK retries per attempt. */
function applies(path: Path, exit: Exit): boolean {
  if (STREAM_ONLY.has(exit) && !path.streamed) return false
  return exit !== 'retry' || path.retriesPerAttempt === true
}

/**
 * The cells run up to Vitest's `maxConcurrency` (5) at a time, so that their waits (a stream's chunk delays, the
 * 50-100 ms in which no late event may arrive) overlap. Each running cell holds a set of wire servers of its own
 * (a cell sets its server's behaviour and counts its requests), taken from this pool and reset before the cell.
 */
const LANES = 5
const lanes: Servers[] = []
const idle: Servers[] = []
const waiting: ((servers: Servers) => void)[] = []

async function startServers(): Promise<Servers> {
  const [openai, anthropic, google, bedrock, mistral, cohere, groq, openrouter] = await Promise.all([
    startOpenAIServer(),
    startAnthropicServer(),
    startGoogleServer(),
    startBedrockServer(),
    startMistralServer(),
    startCohereServer(),
    startGroqServer(),
    startOpenRouterServer(),
  ])
  return { openai, anthropic, google, bedrock, mistral, cohere, groq, openrouter }
}

/** Runs `cell` with a set of servers no other cell is using, reset first. */
async function withServers(cell: (servers: Servers) => Promise<void>): Promise<void> {
  const servers = idle.pop() ?? (await new Promise<Servers>((resolve) => waiting.push(resolve)))
  try {
    for (const server of Object.values(servers)) server.reset()
    await cell(servers)
  } finally {
    const next = waiting.shift()
    if (next !== undefined) next(servers)
    else idle.push(servers)
  }
}

beforeAll(async () => {
  lanes.push(...(await Promise.all(Array.from({ length: LANES }, startServers))))
  idle.push(...lanes)
})
afterAll(async () => {
  await Promise.all(lanes.flatMap((servers) => Object.values(servers).map((server) => server.close())))
})

interface SpendEvent {
  record: Record<string, unknown>
  cost: number
  estimated: boolean
}

async function manager(path: Path, exit: Exit): Promise<{ manager: BudgetManager; events: SpendEvent[] }> {
  const budgets = new BudgetManager({ store: memoryStore() })
  if (exit === 'refusal') await budgets.setBudget('user:alice', { maxBudget: 0.000001 })
  else if (exit === 'fallback')
    await budgets.setBudget('user:alice', {
      maxBudget: path.fallbackLimit,
      onExceeded: { fallbackModel: path.fallback },
    })
  else await budgets.setBudget('user:alice', { maxBudget: 100, duration: 'daily' })
  const events: SpendEvent[] = []
  budgets.on('spend.recorded', (event) => {
    events.push(event as unknown as SpendEvent)
  })
  return { manager: budgets, events }
}

function behavior(exit: Exit): Behavior {
  switch (exit) {
    case 'usage absent':
      return { noUsage: true }
    case 'break':
    case 'abort':
      return { chunks: 6, chunkDelayMs: 15 }
    case 'stream cut':
      return { chunks: 6, cutAfterChunks: 2 }
    case 'server error':
      return { status: 500 }
    default:
      return {}
  }
}

function ending(exit: Exit): Ending {
  return exit === 'break' ? 'break' : exit === 'abort' ? 'abort' : 'read'
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Checks one cell; returns nothing, throws on the first broken promise. */
async function check(path: Path, exit: Exit, servers: Servers): Promise<void> {
  const { manager: budgets, events } = await manager(path, exit)
  const server = servers[path.provider]
  server.defaultBehavior = behavior(exit)
  // One failed attempt first; the SDK retries it (a second reservation) and the retry succeeds.
  if (exit === 'retry') server.enqueue({ status: 500, retryAfter: '0.01' })
  const reserves = vi.spyOn(budgets, 'reserve')
  let error: unknown
  try {
    await path.run(budgets, servers, ending(exit), exit === 'retry' ? 1 : 0)
  } catch (caught) {
    error = caught
  }
  const sent = server.requests.length
  const reachedProvider =
    exit !== 'refusal' && exit !== 'server error' && !(exit === 'fallback' && isBudgetError(error))
  // A hang bound, not a speed check: with 5 cells at a time on a loaded machine (load average 17), an AI SDK stream
  // read to its end after a `break` took over 3 s to report its record.
  if (reachedProvider) await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 15_000 })
  else await sleep(50)
  // Exactly one event for a call that reached the provider, none otherwise, and none arriving later.
  await sleep(50)
  expect(events).toHaveLength(reachedProvider ? 1 : 0)
  expect((await budgets.getStatus('user:alice')).reserved).toBe(0)
  const record = events[0]?.record
  switch (exit) {
    case 'usage present':
      expect(error).toBeUndefined()
      expect([record?.['status'], events[0]?.estimated]).toEqual(['success', false])
      expect(events[0]!.cost).toBeGreaterThan(0)
      break
    case 'usage absent':
      if (path.requiresUsage === true) expect(error !== undefined && !isBudgetError(error)).toBe(true)
      else expect(error).toBeUndefined()
      expect([record?.['status'], events[0]?.estimated]).toEqual(['estimated', true])
      expect(events[0]!.cost).toBeGreaterThan(0)
      break
    case 'break':
    case 'abort':
      // The usage seen so far, flagged; or, where the SDK reads the provider's stream to its end whatever the consumer
      // does (the AI SDK's streamText), the full usage it reported.
      if (record?.['status'] === 'success') expect(events[0]!.estimated).toBe(false)
      else expect([record?.['status'], events[0]!.estimated]).toEqual(['aborted', true])
      expect(events[0]!.cost).toBeGreaterThan(0)
      break
    case 'stream cut':
      // The server dropped the connection before the usage: charged once, at an estimate, flagged.
      expect(events[0]!.estimated).toBe(true)
      expect(events[0]!.cost).toBeGreaterThan(0)
      break
    case 'retry':
      expect(error).toBeUndefined()
      expect([server.requests.length, reserves.mock.calls.length]).toEqual([2, 2])
      expect([record?.['status'], events[0]?.estimated]).toEqual(['success', false])
      break
    case 'server error':
      expect(error).toBeDefined()
      expect(isBudgetError(error)).toBe(false)
      break
    case 'refusal':
      expect(isBudgetExceededError(error)).toBe(true)
      expect(sent).toBe(0)
      break
    case 'fallback': {
      if (isBudgetError(error)) {
        // A path that cannot switch models refuses with a typed error, and sends nothing.
        expect(sent).toBe(0)
        break
      }
      expect(error).toBeUndefined()
      // The model called is the model charged, and the budget that refused the requested model holds.
      const last = server.requests.at(-1)
      const called =
        last !== undefined && path.calledModel
          ? path.calledModel(last)
          : (last?.body as { model?: unknown } | undefined)?.model
      expect(called).toBe(path.fallback)
      expect(String(record?.['modelServed'])).toContain(path.fallback)
      expect((await budgets.getStatus('user:alice')).spend).toBeLessThanOrEqual(path.fallbackLimit)
      expect(events[0]!.cost).toBeGreaterThan(0)
      break
    }
  }
}

describe.concurrent.each(PATHS.map((path) => [path.name, path] as const))('%s', (_name, path) => {
  for (const exit of EXITS)
    if (applies(path, exit)) it(exit, () => withServers((servers) => check(path, exit, servers)))
})

it('the matrix covers every path through every exit that applies to it', () => {
  const cells = PATHS.reduce((n, path) => n + EXITS.filter((exit) => applies(path, exit)).length, 0)
  const streamed = PATHS.filter((path) => path.streamed).length
  const retrying = PATHS.filter((path) => path.retriesPerAttempt === true).length
  const general = EXITS.length - STREAM_ONLY.size - 1
  expect(cells).toBe(streamed * STREAM_ONLY.size + PATHS.length * general + retrying)
})
