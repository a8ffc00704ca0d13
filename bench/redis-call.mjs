// What the two Redis benches share: the store module (dist/redis.js, or LLM_BUDGET_REDIS=path/to/redis.js for another
// build), a free loopback port, the private redis-server's arguments, and the admitted call they measure: reserve then
// commit with a spend record, on up to 4 keys (org, team, user, key) of a daily window.
import { createServer } from 'node:net'
import { pathToFileURL } from 'node:url'

const modulePath = process.env.LLM_BUDGET_REDIS ? pathToFileURL(process.env.LLM_BUDGET_REDIS).href : '../dist/redis.js'
export const { redisStore } = await import(modulePath)

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })

/** Arguments of a private redis-server for a bench: loopback `port`, files in `dir`, nothing persisted. */
export const redisServerArgs = (port, dir) => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--dir',
  dir,
  '--save',
  '',
  '--appendonly',
  'no',
]

/** The keys of one call: org, team, user and API key, the first `keysPerCall` of them. */
export const callKeys = (keysPerCall = 4) =>
  ['org:acme|d|usd', 'team:search|d|usd', 'user:alice|d|usd', 'key:sk-1|d|usd'].slice(0, keysPerCall)

/** The end of the keys' window, the same for every call of a run (a window end that moved would cost writes). */
const day = Date.now() + 86_400_000

/** One admitted call on `store`: reserve 1,000 on each key, then commit 900 with a spend record. */
export async function admittedCall(store, keys, callId) {
  const now = store.clock.now()
  const r = await store.reserve({
    callId,
    now,
    holdExpiresAt: now + 600_000,
    entries: keys.map((key) => ({ key, amount: 1_000, limit: 1e15, expiresAt: day })),
  })
  if (!r.ok) throw new Error('refused')
  await store.commit({
    callId,
    now: store.clock.now(),
    entries: keys.map((key) => ({ key, amount: 900, expiresAt: day })),
    dedupeUntil: now + 3_600_000,
    record: { callId, startedAt: now, endedAt: now + 1, model: 'gpt-4o', costNanoUsd: 900, user: 'alice' },
  })
}
