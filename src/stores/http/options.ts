/**
 * `httpStore`'s options, checked with the library's one options validator (unknown keys refused with the
 * closest known one suggested), plus the URL and token checks with their own messages.
 *
 * @internal Used by `httpStore`.
 */
import { z } from 'zod'
import { BudgetConfigError } from '../../errors.js'
import { describeValue } from '../../internal/describe.js'
import { parseOptions } from '../../internal/options.js'
import type { HttpOutbox, HttpOutboxEntry } from '../http-outbox.js'

const int = (min: number) => z.number().int().min(min).max(Number.MAX_SAFE_INTEGER)
const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', {
  message: 'must be a function',
})

const schema = z.object({
  url: z.unknown().optional(),
  token: z.unknown().optional(),
  fetch: fn.optional(),
  timeoutMs: int(1).optional(),
  retries: int(0).optional(),
  retryBaseDelayMs: int(1).optional(),
  retryMaxDelayMs: int(1).optional(),
  maxRetryAfterMs: int(0).optional(),
  circuitBreaker: z.unknown().optional(),
  outbox: z
    .custom<HttpOutbox>((value) => typeof value === 'object' && value !== null, { message: 'must be an outbox object' })
    .optional(),
  outboxRetryMs: int(1).optional(),
  onUndeliverable: fn.optional(),
  dedupeTtlMs: int(1).optional(),
  random: fn.optional(),
  batch: z.unknown().optional(),
})

const breakerSchema = z.object({ failureThreshold: int(1).optional(), cooldownMs: int(1).optional() })
const batchSchema = z.object({
  maxOperations: z.number().int().min(2).max(10_000).optional(),
  maxBytes: int(1024).optional(),
})

/** The options with every default filled in. */
export interface ResolvedHttpOptions {
  baseUrl: string
  authorization: string
  fetch: typeof fetch
  timeoutMs: number
  retries: number
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  maxRetryAfterMs: number
  breaker: { failureThreshold: number; cooldownMs: number } | null
  outbox: HttpOutbox | undefined
  outboxRetryMs: number
  onUndeliverable: (entry: HttpOutboxEntry, error: unknown) => void
  dedupeTtlMs: number
  random: () => number
  batch: { maxOperations: number; maxBytes: number } | null
}

/** Checks `httpStore`'s options; throws `BudgetConfigError` naming the option. */
export function resolveHttpOptions(input: unknown): ResolvedHttpOptions {
  if (typeof input !== 'object' || input === null)
    throw new BudgetConfigError('options', '`httpStore` needs `{ url, token }`')
  const o = parseOptions('httpStore()', schema, input)
  let base: URL
  try {
    base = new URL(o.url as string)
  } catch {
    throw new BudgetConfigError('url', `\`url\` must be an absolute http(s) URL, got ${describeValue(o.url)}`)
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new BudgetConfigError('url', `\`url\` must use http or https, got ${describeValue(base.protocol, 20)}`)
  if (typeof o.token !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(o.token)) {
    throw new BudgetConfigError(
      'token',
      '`token` must be 1 to 512 visible ASCII characters (the bearer token the server maps to your tenant)',
    )
  }
  const doFetch = (o.fetch as typeof fetch | undefined) ?? globalThis.fetch
  if (typeof doFetch !== 'function')
    throw new BudgetConfigError('fetch', 'no global `fetch` in this runtime: pass `fetch`')
  // Nested option objects: `false` (or `true` for batch) or an object checked like the top level.
  const breaker =
    o.circuitBreaker === false ? null : parseOptions('httpStore({ circuitBreaker })', breakerSchema, o.circuitBreaker)
  const batch =
    o.batch === false ? null : parseOptions('httpStore({ batch })', batchSchema, o.batch === true ? undefined : o.batch)
  return {
    baseUrl: base.href.replace(/\/+$/, ''),
    authorization: `Bearer ${o.token}`,
    fetch: doFetch,
    timeoutMs: o.timeoutMs ?? 5_000,
    retries: o.retries ?? 3,
    retryBaseDelayMs: o.retryBaseDelayMs ?? 50,
    retryMaxDelayMs: o.retryMaxDelayMs ?? 2_000,
    maxRetryAfterMs: o.maxRetryAfterMs ?? 10_000,
    breaker:
      breaker === null
        ? null
        : { failureThreshold: breaker.failureThreshold ?? 5, cooldownMs: breaker.cooldownMs ?? 2_000 },
    outbox: o.outbox,
    outboxRetryMs: o.outboxRetryMs ?? 1_000,
    onUndeliverable:
      (o.onUndeliverable as ResolvedHttpOptions['onUndeliverable'] | undefined) ??
      ((entry, error) => {
        console.error(
          `llm-budget httpStore: the server refused queued commit ${describeValue(entry.request.callId)} for good; it was removed from the outbox:`,
          error,
        )
      }),
    dedupeTtlMs: o.dedupeTtlMs ?? 86_400_000,
    random: (o.random as (() => number) | undefined) ?? Math.random,
    batch:
      batch === null ? null : { maxOperations: batch.maxOperations ?? 256, maxBytes: batch.maxBytes ?? 512 * 1024 },
  }
}
