/**
 * The response cache: identical calls answered from memory (or a shared backend such as Redis) instead of the
 * provider. A hit is recorded as $0 with `cacheHit: true` and `saved`, the cost of the call that filled the entry.
 * Concurrent identical misses in one process call the provider once (single flight).
 */
import { LRUCache } from 'lru-cache'
import { z } from 'zod'
import { InvalidInputError } from '../errors.js'
import { parseOptions } from '../internal/options.js'
import { sha256Hex } from '../internal/sha256.js'

/** One cached answer. */
export interface CachedResponse {
  /** The function's result; for a stream, the array of its chunks, replayed in order on a hit. */
  value: unknown
  /** True when `value` holds a stream's chunks. */
  stream: boolean
  /** For a stream: replayed as a `ReadableStream` (`readable`) or an async iterable (`iterable`, the default). */
  kind?: 'readable' | 'iterable' | undefined
  /** What the call that filled the entry cost, exact USD decimal string. */
  cost: string
  /** The model that served it, when known. */
  model?: string | undefined
  /** When it was stored, epoch ms. */
  storedAt: number
}

/**
 * Where entries live when they are shared between instances (e.g. Redis). Values cross it as JSON text, so a
 * shared cache holds JSON-compatible results only.
 */
export interface ResponseCacheBackend {
  /** The entry's JSON text, or `null`/`undefined` when there is none. */
  get(key: string): Promise<string | null | undefined>
  /** Stores the entry's JSON text for `ttlMs` milliseconds. */
  set(key: string, value: string, ttlMs: number): Promise<void>
  /** Deletes an entry (one that could not be read back). */
  delete?(key: string): Promise<void>
}

/** Options of {@link responseCache}. */
export interface ResponseCacheOptions {
  /** Most entries kept in memory (least recently used go first). Default 1,000. */
  max?: number | undefined
  /** How long an entry answers, in ms. Default 1 hour. */
  ttlMs?: number | undefined
  /** A shared backend (see `redisCacheBackend` in `llm-budget/redis`); memory still answers repeated local hits. */
  backend?: ResponseCacheBackend | undefined
  /** Prefix of the backend's keys. Default `llm-budget:cache:`. */
  prefix?: string | undefined
}

/** A response cache, passed as `withBudget`'s (and the integrations') `cache` option. */
export interface ResponseCache {
  /** How long an entry answers, in ms. */
  readonly ttlMs: number
  /** The entry for `key`, if one is live. */
  lookup(key: string): Promise<CachedResponse | undefined>
  /** Stores an entry (memory, and the backend when there is one). */
  store(key: string, entry: CachedResponse): Promise<void>
  /**
   * Runs `miss` once for concurrent callers with the same key in this process; the others wait for the same result.
   * `leader` is true for the caller whose `miss` ran.
   */
  singleFlight<T>(key: string, miss: () => Promise<T>): Promise<{ value: T; leader: boolean }>
  /** Drops every entry kept in memory (a shared backend's entries expire by their TTL). */
  clear(): void
}

const optionsSchema = z.object({
  max: z.number().int().min(1).max(10_000_000).optional(),
  ttlMs: z
    .number()
    .int()
    .min(1)
    .max(365 * 24 * 3_600_000)
    .optional(),
  backend: z
    .custom<ResponseCacheBackend>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as ResponseCacheBackend).get === 'function' &&
        typeof (v as ResponseCacheBackend).set === 'function',
      'must be an object with get(key) and set(key, value, ttlMs)',
    )
    .optional(),
  prefix: z.string().max(256).optional(),
})

const entrySchema = z.object({
  value: z.unknown(),
  stream: z.boolean(),
  kind: z.enum(['readable', 'iterable']).optional(),
  cost: z.string().regex(/^\d+(\.\d+)?$/),
  model: z.string().optional(),
  storedAt: z.number(),
})

/**
 * A response cache kept in memory (lru-cache), optionally backed by a shared store so hits are shared across
 * instances.
 *
 * @example
 * ```ts
 * import { BudgetManager, responseCache, withBudget } from 'llm-budget'
 *
 * const budgets = new BudgetManager()
 * const cache = responseCache({ max: 500, ttlMs: 10 * 60_000 })
 * const ask = withBudget(async (prompt: string) => ({ text: prompt.toUpperCase(), usage: { prompt_tokens: 5, completion_tokens: 5 } }), {
 *   manager: budgets,
 *   context: { user: 'alice' },
 *   estimate: { model: 'gpt-4o-mini', inputTokens: 100, maxOutputTokens: 100 },
 *   cache,
 * })
 * await ask('hi') // calls the function
 * await ask('hi') // answered from the cache: recorded as $0 with `cacheHit: true` and `saved`
 * ```
 */
export function responseCache(options: ResponseCacheOptions = {}): ResponseCache {
  const parsed = parseOptions('responseCache()', optionsSchema, options)
  const ttlMs = parsed.ttlMs ?? 3_600_000
  const prefix = parsed.prefix ?? 'llm-budget:cache:'
  const backend = parsed.backend
  const memory = new LRUCache<string, CachedResponse>({ max: parsed.max ?? 1_000, ttl: ttlMs })
  const inFlight = new Map<string, Promise<unknown>>()

  return {
    ttlMs,
    async lookup(key) {
      const local = memory.get(key)
      if (local !== undefined) return local
      if (backend === undefined) return undefined
      const text = await backend.get(prefix + key)
      if (text === null || text === undefined) return undefined
      let entry: CachedResponse
      try {
        entry = entrySchema.parse(JSON.parse(text)) as CachedResponse
      } catch {
        // A damaged or foreign entry is a miss, never a wrong answer.
        await backend.delete?.(prefix + key)
        return undefined
      }
      memory.set(key, entry)
      return entry
    },
    async store(key, entry) {
      memory.set(key, entry)
      if (backend !== undefined) await backend.set(prefix + key, JSON.stringify(entry), ttlMs)
    },
    async singleFlight<T>(key: string, miss: () => Promise<T>) {
      const running = inFlight.get(key) as Promise<T> | undefined
      if (running !== undefined) return { value: await running, leader: false }
      const started = miss()
      inFlight.set(key, started)
      try {
        return { value: await started, leader: true }
      } finally {
        inFlight.delete(key)
      }
    },
    clear() {
      memory.clear()
    },
  }
}

/** JSON text with object keys sorted, so equal arguments give equal keys whatever their key order. */
function stableJson(value: unknown, seen: Set<object>): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return `"${value}n"`
    if (typeof value === 'function' || typeof value === 'symbol' || value === undefined) return 'null'
    return JSON.stringify(value)
  }
  if (seen.has(value))
    throw new InvalidInputError(
      'cacheKey',
      'the arguments contain a cycle and cannot be hashed; pass a `cacheKey` function',
    )
  seen.add(value)
  try {
    if (Array.isArray(value)) return `[${value.map((v) => stableJson(v, seen)).join(',')}]`
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function')
      return stableJson((value as { toJSON(): unknown }).toJSON(), seen)
    const keys = Object.keys(value).sort()
    const parts: string[] = []
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k]
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
      parts.push(`${JSON.stringify(k)}:${stableJson(v, seen)}`)
    }
    return `{${parts.join(',')}}`
  } finally {
    seen.delete(value)
  }
}

/** The default cache key: SHA-256 of the arguments as stable JSON (functions and `undefined` left out). */
export function defaultCacheKey(args: readonly unknown[]): string {
  return sha256Hex(stableJson(args, new Set()))
}
