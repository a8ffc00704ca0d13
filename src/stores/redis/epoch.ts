/**
 * The store's epoch: one key without expiry (`{prefix}:epoch`) whose value every script compares with the one
 * the process read at its first contact. Redis losing the store's data (`FLUSHALL`, a restart without
 * persistence, an eviction) removes it, and every later operation fails with a `StorageError` instead of
 * counting from 0. An automatic epoch starts with `a:`; one written by an operator who starts over on purpose
 * (`startOver()`) starts with `i:`, and running processes adopt it.
 *
 * Also here: the read scripts (budget definitions, history, the record metadata), which check the epoch too, and
 * the check of the server's eviction policy.
 *
 * @internal
 */
import { StorageError } from '../../errors.js'

/** An epoch value: `a:` (created automatically at first use) or `i:` (written by an operator), then 16 random hex digits. */
export function newEpoch(kind: 'a' | 'i'): string {
  const bytes = new Uint8Array(8)
  const crypto = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto
  if (crypto?.getRandomValues !== undefined) crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  let hex = ''
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
  return `${kind}:${hex}`
}

/** True for an epoch written on purpose by an operator (`startOver()`), which running processes adopt. */
export function isDeliberate(epoch: string): boolean {
  return epoch.startsWith('i:')
}

/**
 * Reads the epoch, creating it when `ARGV[1]` is `create` and there is none. `KEYS[1]` the epoch key,
 * `ARGV[2]` the new epoch. Answers the server time (`TIME`'s two parts) and the epoch (`''` for none).
 */
export const INIT_SCRIPT = `local t = redis.call('TIME')
local v = redis.call('GET', KEYS[1])
if not v and ARGV[1] == 'create' then
  redis.call('SET', KEYS[1], ARGV[2])
  v = ARGV[2]
end
return {t[1], t[2], v or ''}
`

/**
 * Starts over on purpose: writes a new epoch (`ARGV[1]`) and drops from the registry of live keys (`KEYS[2]`)
 * the keys that are gone, so they are not reported as lost again; likewise the rollup days whose hash is gone
 * (the rollup coverage then starts after the latest of them). `KEYS[1]` the epoch key, `ARGV[2]` the key
 * base. Answers the server time and how many registry entries were dropped.
 */
export const START_OVER_SCRIPT = `local t = redis.call('TIME')
local all = redis.call('ZRANGE', KEYS[2], 0, -1)
local gone = {}
for i = 1, #all do
  if redis.call('EXISTS', ARGV[2] .. 'k:' .. all[i]) == 0 then gone[#gone + 1] = all[i] end
end
for i = 1, #gone, 1000 do redis.call('ZREM', KEYS[2], unpack(gone, i, math.min(i + 999, #gone))) end
local days = redis.call('ZRANGE', ARGV[2] .. 'ud', 0, -1, 'WITHSCORES')
local uf = tonumber(redis.call('HGET', ARGV[2] .. 'rm', 'uf'))
for i = 1, #days, 2 do
  if redis.call('EXISTS', ARGV[2] .. 'u:' .. days[i]) == 0 then
    redis.call('ZREM', ARGV[2] .. 'ud', days[i])
    local from = tonumber(days[i + 1]) + 86400000
    if not uf or from > uf then uf = from end
    gone[#gone + 1] = days[i]
  end
end
if uf then redis.call('HSET', ARGV[2] .. 'rm', 'uf', string.format('%d', uf)) end
redis.call('SET', KEYS[1], ARGV[1])
return {t[1], t[2], tostring(#gone)}
`

/**
 * A read that checks the epoch first. `KEYS[1]` the epoch key, `KEYS[2]` the key read; `ARGV[1]` the epoch
 * the client knows, `ARGV[2]` `hget` (field `ARGV[3]`), `hvals` or `lrange`. Answers `{'ok', value}` or
 * `{'lost', stored epoch}`.
 */
export const READ_SCRIPT = `local v = redis.call('GET', KEYS[1])
if v ~= ARGV[1] then return {'lost', v or ''} end
local op = ARGV[2]
if op == 'hget' then return {'ok', redis.call('HGET', KEYS[2], ARGV[3])} end
if op == 'hvals' then return {'ok', redis.call('HVALS', KEYS[2])} end
return {'ok', redis.call('LRANGE', KEYS[2], 0, -1)}
`

/** The error every operation fails with once the store's data is known to be lost. */
export function lostError(detail: string): StorageError {
  return new StorageError(
    'redis',
    `Redis lost the store's data (${detail}); refusing to count budgets from 0. Restore Redis from its persistence, or ` +
      'call startOver() on a store to accept the loss (see docs/stores/redis.md)',
    { retryable: false },
  )
}

/**
 * Checks the server's `maxmemory` and `maxmemory-policy` (`CONFIG GET maxmemory*`): a limit with an eviction
 * policy can delete ledger keys. Resolves when the policy is safe, when it is accepted, or when the server does
 * not allow `CONFIG` (managed Redis: then the docs' requirements are the operator's to meet).
 */
export async function checkEvictionPolicy(configGet: () => Promise<unknown>, acceptEviction: boolean): Promise<void> {
  let reply: unknown
  try {
    reply = await configGet()
  } catch (error) {
    // CONFIG renamed, refused (ACL) or unknown: nothing to check here
    if (error instanceof Error && /unknown command|NOPERM|ERR unknown|not allowed|disabled/i.test(error.message)) return
    throw error
  }
  const config = new Map<string, string>()
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) config.set(String(reply[i]), String(reply[i + 1]))
  } else if (typeof reply === 'object' && reply !== null) {
    for (const [name, value] of Object.entries(reply)) config.set(name, String(value))
  }
  const maxmemory = config.get('maxmemory') ?? '0'
  const policy = config.get('maxmemory-policy') ?? 'noeviction'
  if (maxmemory === '0' || policy === 'noeviction' || acceptEviction) return
  throw new StorageError(
    'redis',
    `Redis has maxmemory ${maxmemory} with maxmemory-policy ${policy}, which can evict the store's ledger keys (their ` +
      'budgets would start over from 0). Set maxmemory-policy noeviction, or pass `acceptEviction: true` to run anyway ' +
      '(an evicted key then fails the next operation on it)',
    { retryable: false },
  )
}
