/**
 * The Lua scripts of the Redis store outside the batch (`scripts.ts`): balances and reset of ledger keys, and the
 * write of a budget definition. Each starts with the prelude of `prelude.ts` and runs atomically inside Redis.
 *
 * @internal
 */
import { PRELUDE } from './prelude.js'

/** Balances. `KEYS`: budgets hash, then the hash of every key. `spent, reserved` per key. */
export const BALANCES_SCRIPT = String.raw`${PRELUDE}
local out = {serverStr, 'ok'}
local ok, res = guarded(function()
  for i = 4, #KEYS do
    local k = live(KEYS[i])
    out[#out + 1] = k.ss
    out[#out + 1] = R(k)
  end
end)
if not ok then error(res) end
return out
`

/** Reset spend to zero, keeping holds. `KEYS` and `ARGV` as in {@link BALANCES_SCRIPT}. */
export const RESET_SCRIPT = String.raw`${PRELUDE}
local ok, res = guarded(function()
  for i = 4, #KEYS do
    local k = live(KEYS[i])
    if k.exists then put(k, {'s', '0'}) end
  end
end)
if not ok then error(res) end
return {serverStr, 'ok'}
`

/**
 * Write or delete a budget definition and append its history entry. `KEYS`: budgets hash, history list.
 * `ARGV[6]` scope, `[7]` scope as JSON, `[8]` `1` to delete, `[9]` definition JSON, `[10]` history entry JSON,
 * `[11]` now as JSON, `[12]` expected revision (`''` for none). Stored value:
 * `revision\ncreatedAt\nupdatedAt\nscopeJSON\ndefinitionJSON`. Status `ok` | `conflict`; then the stored
 * value after (`ok`) or as it is (`conflict`), or nothing when there is none.
 */
export const PUT_BUDGET_SCRIPT = String.raw`${PRELUDE}
local scope = ARGV[6]
local current = redis.call('HGET', KEYS[3], scope)
local revision = 0
local created = nil
if current then
  local r, c = string.match(current, '^(%d+)\n([^\n]*)\n')
  revision = tonumber(r)
  created = c
end
if ARGV[12] ~= '' and revision ~= tonumber(ARGV[12]) then
  if current then return {serverStr, 'conflict', current} end
  return {serverStr, 'conflict'}
end
redis.call('RPUSH', KEYS[4], ARGV[10])
if ARGV[8] == '1' then
  redis.call('HDEL', KEYS[3], scope)
  return {serverStr, 'ok'}
end
local value = string.format('%.0f', revision + 1) .. '\n' .. (created or ARGV[11]) .. '\n' .. ARGV[11] .. '\n' .. ARGV[7] .. '\n' .. ARGV[9]
redis.call('HSET', KEYS[3], scope, value)
return {serverStr, 'ok', value}
`
