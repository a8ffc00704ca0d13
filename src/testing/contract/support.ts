/**
 * What the cases of the store contract share: assertions that name what they check, request builders and times.
 *
 * @packageDocumentation
 */
import type {
  BudgetStore,
  CommitRequest,
  ReserveEntry,
  ReserveRequest,
  RollupQuery,
  RollupResult,
} from '../../stores/types.js'
import type { ContractCase, ContractGroup } from '../contract.js'

/** Registers one case of the suite. */
export type AddCase = (group: ContractGroup, name: string, run: ContractCase['run']) => void

export function fail(message: string): never {
  throw new Error(`store contract: ${message}`)
}

export function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`)
}

export async function rejects(promise: () => Promise<unknown>, code: string, what: string): Promise<void> {
  let thrown: unknown
  try {
    await promise()
  } catch (error) {
    thrown = error
  }
  if (thrown === undefined) fail(`${what}: expected an error with code ${code}, but it succeeded`)
  const actual = (thrown as { code?: unknown }).code
  if (actual !== code) fail(`${what}: expected code ${code}, got ${String(actual)} (${String(thrown)})`)
}

export const HOUR = 3_600_000
export const DAY = 24 * HOUR

export function entry(
  key: string,
  amount: number,
  limit: number | null,
  expiresAt: number | null = null,
): ReserveEntry {
  return { key, amount, limit, expiresAt }
}

/** A commit of `nano` on `key` with a spend record that names user, team, tags, model and tokens. */
export function spendCommit(
  p: string,
  callId: string,
  now: number,
  key: string,
  nano: number,
  extra: { user?: string; model?: string; tags?: string[]; estimated?: boolean } = {},
): CommitRequest {
  const context: Record<string, string | string[]> = { user: extra.user ?? `${p}alice`, team: `${p}search` }
  if (extra.tags !== undefined) context.tags = extra.tags
  return {
    callId,
    now,
    entries: [{ key, amount: nano, expiresAt: null }],
    dedupeUntil: now + DAY,
    record: {
      callId,
      startedAt: now - 10,
      endedAt: now,
      model: extra.model ?? 'gpt-4o',
      modelServed: extra.model ?? 'gpt-4o',
      provider: 'openai',
      costNanoUsd: nano,
      estimated: extra.estimated ?? false,
      usage: { inputTokens: 100, outputTokens: 10 },
      context,
    },
  }
}

export async function rollups(store: BudgetStore, query: RollupQuery): Promise<RollupResult> {
  if (typeof store.queryRollups !== 'function')
    fail('the store has no `queryRollups`: daily rollups are part of the contract')
  return store.queryRollups(query)
}

export function reserveRequest(callId: string, now: number, entries: ReserveEntry[], ttl = HOUR): ReserveRequest {
  return { callId, now, holdExpiresAt: now + ttl, entries }
}

/** Every case of the contract suite, for runners that want to pick or wrap them. */
