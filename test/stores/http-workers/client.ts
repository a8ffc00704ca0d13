// A client process for the httpStore tests: `node <this file bundled> '<json options>'` (test/helpers/global-setup.ts).
// Prints one line per event on stdout (pipes are synchronous on Linux, so lines survive a kill -9).
import { existsSync } from 'node:fs'
import { BudgetManager } from '../../../src/budget/manager.js'
import { withBudget } from '../../../src/budget/with-budget.js'
import { fileOutbox } from '../../../src/stores/file.js'
import { httpStore } from '../../../src/stores/http.js'

interface Options {
  mode: 'calls' | 'drain' | 'withBudget'
  /** withBudget mode: the user the calls count against. */
  user?: string
  url: string
  token: string
  key: string
  prefix: string
  calls?: number
  concurrency?: number
  amount?: number
  limit?: number | null
  /** Pretend LLM latency between reserve and commit, ms. */
  latencyMs?: number
  outbox?: string
  retries?: number
  failureThreshold?: number
  /** Do not flush at the end (the test kills the process). */
  hang?: boolean
  timeoutMs?: number
  /** Print `ready`, then start only once this file exists (a start barrier across processes). */
  startFile?: string
  /**
   * Calls admitted after the first `after` wait, before their commit, until `file` exists (each prints `held <id>`
   * when it starts waiting): a test stops the server, then creates the file, so that these commits meet a stopped
   * server however long its shutdown took.
   */
  commitGate?: { after: number; file: string }
}

const options = JSON.parse(process.argv[2]!) as Options
const T0 = 1_800_000_000_000
const DAY = 86_400_000
const out = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

const store = httpStore({
  url: options.url,
  token: options.token,
  retries: options.retries ?? 3,
  timeoutMs: options.timeoutMs ?? 5_000,
  circuitBreaker: { failureThreshold: options.failureThreshold ?? 5, cooldownMs: 500 },
  outboxRetryMs: 200,
  ...(options.outbox === undefined ? {} : { outbox: fileOutbox({ path: options.outbox }) }),
})

const amount = options.amount ?? 10_000_000
const limit = options.limit === undefined ? null : options.limit
let admittedCount = 0

async function untilExists(file: string): Promise<void> {
  while (!existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20))
}

async function oneCall(i: number): Promise<void> {
  const callId = `${options.prefix}c${i}`
  let admitted: boolean
  try {
    const r = await store.reserve({
      callId,
      now: T0,
      holdExpiresAt: T0 + 60_000,
      entries: [{ key: options.key, amount, limit, expiresAt: null }],
    })
    admitted = r.ok
  } catch (error) {
    // The manager's default `onStoreError: 'deny'`: a store that cannot answer admits nothing.
    out(`denied ${callId} ${(error as { code?: string }).code ?? 'ERROR'}`)
    return
  }
  if (!admitted) {
    out(`refused ${callId}`)
    return
  }
  out(`admitted ${callId}`)
  const held = options.commitGate !== undefined && ++admittedCount > options.commitGate.after
  if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs))
  if (held) {
    out(`held ${callId}`)
    await untilExists(options.commitGate!.file)
  }
  const c = await store.commit({
    callId,
    now: T0 + 1,
    entries: [{ key: options.key, amount, expiresAt: null }],
    dedupeUntil: T0 + DAY,
    record: { callId, startedAt: T0, endedAt: T0 + 1, costNanoUsd: amount },
  })
  out(`committed ${callId} ${(c as { queued?: boolean }).queued === true ? 'queued' : 'sent'}`)
}

async function main(): Promise<void> {
  if (options.startFile !== undefined) {
    out('ready')
    await untilExists(options.startFile)
  }
  if (options.mode === 'withBudget') {
    const manager = new BudgetManager({ store })
    const call = withBudget(async (i: number) => i, {
      manager,
      context: { user: options.user! },
      estimate: 0.01,
      cost: () => 0.01,
    })
    await Promise.all(
      Array.from({ length: options.calls ?? 250 }, async (_, i) => {
        try {
          await call(i)
          out(`admitted ${options.prefix}c${i}`)
        } catch (error) {
          out(
            `${(error as { code?: string }).code === 'BUDGET_EXCEEDED' ? 'refused' : 'denied'} ${options.prefix}c${i} ${(error as { code?: string }).code ?? String(error)}`,
          )
        }
      }),
    )
    out('flushed')
  } else if (options.mode === 'drain') {
    for (;;) {
      const left = await store.flush()
      if (left === 0) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    out('drained')
  } else {
    const calls = options.calls ?? 250
    const concurrency = options.concurrency ?? calls
    let next = 0
    await Promise.all(
      Array.from({ length: Math.min(concurrency, calls) }, async () => {
        while (next < calls) await oneCall(next++)
      }),
    )
    out('calls-done')
    if (options.hang) {
      // until killed: a pending promise alone does not keep a process alive, a timer does
      setInterval(() => undefined, 1 << 30)
      await new Promise(() => undefined)
    }
    for (;;) {
      const left = await store.flush()
      if (left === 0) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    out('flushed')
  }
  await store.close()
  out('closed')
}

main().catch((error) => {
  out(`error ${String(error?.stack ?? error)}`)
  process.exit(1)
})
