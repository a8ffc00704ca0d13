// What the two budget-server benches share: the admitted call they measure through `httpStore` (reserve then commit
// with a spend record, on a user, a team and an org key of a daily window) and its instants.
export const T0 = 1_800_000_000_000
export const DAY = 86_400_000

/** One admitted call `i` with call id `callId` through `store`: reserve, then commit with a record. */
export async function admittedCall(store, callId, i) {
  const keys = [`user:u${i % 1000}|d|usd`, `team:t${i % 50}|d|usd`, `org:o${i % 5}|d|usd`]
  const r = await store.reserve({
    callId,
    now: T0,
    holdExpiresAt: T0 + 60_000,
    entries: keys.map((key) => ({ key, amount: 10_000_000, limit: 1e15, expiresAt: null })),
  })
  if (!r.ok) throw new Error('refused')
  await store.commit({
    callId,
    now: T0 + 1,
    entries: keys.map((key) => ({ key, amount: 9_000_000, expiresAt: null })),
    dedupeUntil: T0 + DAY,
    record: { callId, startedAt: T0, endedAt: T0 + 1, model: 'gpt-4o-mini', costNanoUsd: 9_000_000 },
  })
}
