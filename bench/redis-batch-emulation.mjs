// Not a bench of the store: an emulation of a design the Redis store does not use yet (ADR 0054, "What would
// reach 12x"). A batch of B reserves in one script, then B commits in one, on 4 shared ledger keys, with a
// per-batch key cache (one HMGET and one write per key per batch) and, per call, what batching cannot share (its
// call record, written twice, one stream entry, its arguments). No sweep, expiry or idempotency logic: a lower
// bound, in Redis CPU (INFO cpu) per call against a trivial EVAL measured in the same run.
//
// Usage: node bench/redis-batch-emulation.mjs   (not run by `npm run bench`)
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

const CALLS = 20000
const port = await new Promise((r) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port
    s.close(() => r(p))
  })
})
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-batch-emulation-'))
const server = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
  { stdio: 'ignore' },
)
const admin = new Redis(port, '127.0.0.1', { retryStrategy: (n) => (n > 100 ? null : 50) })
admin.on('error', () => {})
await admin.ping()
const io = new Redis(port, '127.0.0.1', { enableAutoPipelining: true })
const cpu = async () => {
  const t = await admin.info('cpu')
  return Number(t.match(/used_cpu_user:([\d.]+)/)[1]) + Number(t.match(/used_cpu_sys:([\d.]+)/)[1])
}
await admin.set('{p}:epoch', 'a:1')
const RES = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
local cache, writes, out = {}, {}, {}
local B = tonumber(ARGV[2])
local a, kx = 3, 2
for op = 1, B do
  local cid, holdX = ARGV[a], ARGV[a + 1]
  local ck = KEYS[kx]
  local rec = redis.call('GET', ck)
  local held = {}
  local res = {'ok'}
  for i = 1, 4 do
    local h = KEYS[kx + i]
    local k = cache[h]
    if not k then
      local v = redis.call('HMGET', h, 's', 'r', 'e', 'n', 'p')
      k = {s = tonumber(v[1]) or 0, r = tonumber(v[2]) or 0, e = tonumber(v[3]), n = tonumber(v[4]), p = tonumber(v[5])}
      cache[h] = k
      writes[#writes + 1] = h
      k.f = {}
    end
    local amount = ARGV[a + 2 + (i - 1) * 3]
    local am = tonumber(amount)
    local limit = tonumber(ARGV[a + 3 + (i - 1) * 3])
    if limit and k.s + k.r + am > limit then res[1] = 'refused' end
    k.r = k.r + am
    k.f[#k.f + 1] = 'h:' .. cid
    k.f[#k.f + 1] = amount .. ':' .. holdX
    held[i] = string.format('%d:%s%s,', #h, h, amount)
    res[#res + 1] = k.s
    res[#res + 1] = k.r
  end
  redis.call('SET', ck, 'h|' .. holdX .. '|' .. table.concat(held), 'PXAT', now + 900000)
  out[op] = res
  a = a + 2 + 12
  kx = kx + 5
end
for _, h in ipairs(writes) do
  local k = cache[h]
  k.f[#k.f + 1] = 'r'
  k.f[#k.f + 1] = string.format('%d', k.r)
  redis.call('HSET', h, unpack(k.f))
end
return #out
`
const COM = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
local cache, writes, out = {}, {}, {}
local B = tonumber(ARGV[2])
local m = redis.call('HMGET', KEYS[2], 'ms', 'seq', 'late', 'u0', 'uf', 'rf', 'tt')
local seq = tonumber(m[2] or '0')
local a, kx = 3, 4
local rollup = 0
for op = 1, B do
  local cid = ARGV[a]
  local ck = KEYS[kx]
  local rec = redis.call('GET', ck)
  local amounts = {}
  if rec then
    local pos = string.find(rec, '|', 3, true) + 1
    while pos <= #rec do
      local c = string.find(rec, ':', pos, true)
      local e = c + tonumber(string.sub(rec, pos, c - 1))
      local lk = string.sub(rec, c + 1, e)
      local comma = string.find(rec, ',', e + 1, true)
      amounts[lk] = tonumber(string.sub(rec, e + 1, comma - 1))
      pos = comma + 1
    end
  end
  local res = {'ok'}
  for i = 1, 4 do
    local h = KEYS[kx + i]
    local k = cache[h]
    if not k then
      local v = redis.call('HMGET', h, 's', 'r', 'e', 'n', 'p')
      k = {s = tonumber(v[1]) or 0, r = tonumber(v[2]) or 0, e = tonumber(v[3]), n = tonumber(v[4]), p = tonumber(v[5])}
      cache[h] = k
      writes[#writes + 1] = h
      k.d = {}
    end
    local am = tonumber(ARGV[a + 1 + (i - 1) * 2])
    local before = k.s
    k.s = k.s + am
    if amounts[h] then k.r = k.r - amounts[h]; k.d[#k.d + 1] = 'h:' .. cid end
    res[#res + 1] = before
    res[#res + 1] = k.s
    res[#res + 1] = k.r
  end
  seq = seq + 1
  local ra = a + 1 + 8
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '100000', string.format('%d-%d', 1, seq), unpack(ARGV, ra, ra + 11))
  rollup = rollup + 1
  redis.call('SET', ck, 'c|' .. (now + 3600000) .. '|', 'PXAT', now + 3900000)
  out[op] = res
  a = ra + 12
  kx = kx + 5
end
local u = redis.call('HMGET', KEYS[2] .. 'u', 'a', 'b')
redis.call('HSET', KEYS[2] .. 'u', 'a', rollup, 'b', rollup)
redis.call('HSET', KEYS[2], 'ms', '1', 'seq', seq, 'late', '0')
for _, h in ipairs(writes) do
  local k = cache[h]
  if #k.d > 0 then redis.call('HDEL', h, unpack(k.d)) end
  redis.call('HSET', h, 's', string.format('%d', k.s), 'r', string.format('%d', k.r))
end
return #out
`
const res = await admin.script('LOAD', RES),
  com = await admin.script('LOAD', COM)
const triv = await admin.script('LOAD', "return redis.call('INCRBY', KEYS[1], ARGV[1])")
const names = ['{p}:k:org:acme|d|usd', '{p}:k:team:search|d|usd', '{p}:k:user:alice|d|usd', '{p}:k:key:sk-1|d|usd']
async function batched(B) {
  let next = 0
  const c0 = await cpu()
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: 100 / B }, async () => {
      while (next < CALLS) {
        const ids = []
        for (let j = 0; j < B; j++) ids.push(`c${B}-${next++}`)
        const now = Date.now()
        const rk = ['{p}:epoch'],
          ra = ['a:1', String(B)]
        const ck = ['{p}:epoch', '{p}:rm', '{p}:r'],
          ca = ['a:1', String(B)]
        for (const id of ids) {
          rk.push(`{p}:c:${id}`, ...names)
          ra.push(id, String(now + 600000))
          for (let i = 0; i < 4; i++) ra.push('1000', '1000000000000000', String(now + 86400000))
          ck.push(`{p}:c:${id}`, ...names)
          ca.push(id)
          for (let i = 0; i < 4; i++) ca.push('900', String(now + 86400000))
          ca.push(
            'callId',
            JSON.stringify(id),
            'startedAt',
            String(now),
            'endedAt',
            String(now + 1),
            'model',
            '"gpt-4o"',
            'costNanoUsd',
            '900',
            'user',
            '"alice"',
          )
        }
        await io.call('EVALSHA', res, String(rk.length), ...rk, ...ra)
        await io.call('EVALSHA', com, String(ck.length), ...ck, ...ca)
      }
    }),
  )
  const us = (((await cpu()) - c0) * 1e6) / CALLS
  return [us, Math.round(CALLS / ((performance.now() - t0) / 1000))]
}
for (let rep = 0; rep < 2; rep++) {
  let next = 0
  const c0 = await cpu()
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < CALLS * 2) {
        next++
        await io.call('EVALSHA', triv, '1', 'tk', '1')
      }
    }),
  )
  const t = (((await cpu()) - c0) * 1e6) / (CALLS * 2)
  const line = [`trivial ${t.toFixed(2)} us`]
  for (const B of [1, 5, 20, 50]) {
    const [us, cps] = await batched(B)
    line.push(`B=${B}: ${us.toFixed(1)} us/call (${(us / t).toFixed(1)}x, ${cps}/s)`)
  }
  console.log(line.join(' | '))
}
io.disconnect()
admin.disconnect()
server.kill('SIGTERM')
await new Promise((resolve) => server.once('exit', resolve))
rmSync(dir, { recursive: true, force: true })
