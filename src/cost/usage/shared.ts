/**
 * Helpers shared by the per-provider usage parsers: loose readers of untrusted JSON and the draft a parser
 * fills in before `finish` validates it into a {@link NormalizedUsage}.
 *
 * @internal
 * @packageDocumentation
 */
import type { NormalizedUsage } from '../types.js'

/** A JSON object of unknown shape. */
export type Obj = Record<string, unknown>

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function obj(value: unknown): Obj | undefined {
  return isObj(value) ? value : undefined
}

/** A count field: a number (possibly invalid, validated later) or undefined when absent/null. */
export function n(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number') return value
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value)
  return Number.NaN
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** A service tier that changes the price, else undefined. */
export function tierOf(value: unknown): 'flex' | 'priority' | undefined {
  return value === 'flex' || value === 'priority' ? value : undefined
}

/** What a parser found, before validation. */
export interface Draft {
  inputTokens: number | null
  outputTokens: number | null
  cacheReadTokens: number
  cacheWriteTokens: number
  reasoningTokens: number | null
  extras: Partial<NormalizedUsage> & Record<string, unknown>
  model: string | undefined
}

export function draft(
  inputTokens: number | null,
  outputTokens: number | null,
  cacheRead = 0,
  cacheWrite = 0,
  reasoning: number | null = null,
): Draft {
  return {
    inputTokens,
    outputTokens,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: reasoning,
    extras: {},
    model: undefined,
  }
}

export function sum(...values: Array<number | undefined>): number {
  let total = 0
  for (const v of values) if (v !== undefined) total += v
  return total
}

/** Copies the Anthropic-style 5m / 1h cache-write split of `creation` into the draft (when it wrote to the cache). */
export function addCacheWriteSplit(d: Draft, creation: Obj | undefined): void {
  if (!creation || d.cacheWriteTokens <= 0) return
  const w5 = n(creation.ephemeral_5m_input_tokens)
  const w1 = n(creation.ephemeral_1h_input_tokens)
  if (w5 !== undefined) d.extras.cacheWrite5mTokens = w5
  if (w1 !== undefined) d.extras.cacheWrite1hTokens = w1
}

/** A shallow copy without null / undefined values. */
export function stripNulls(o: Obj): Obj {
  const out: Obj = {}
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v
  return out
}

/** Merges cumulative usage: every non-null field of `next` overwrites (never adds to) `into`, nested objects too. */
export function overwrite(into: Obj, next: Obj): void {
  for (const [key, value] of Object.entries(next)) {
    if (value === null || value === undefined) continue
    const inner = obj(value)
    const existing = obj(into[key])
    if (inner !== undefined && existing !== undefined) overwrite(existing, inner)
    else into[key] = inner !== undefined ? { ...inner } : value
  }
}
