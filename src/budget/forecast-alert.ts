/**
 * The projected-overrun alert (`forecast.exceeded`): a commit that moves a budget's projected spend at the end
 * of its window from at most its limit to above it raises the alert, once per scope and window across every
 * instance sharing the store. Projections fall as time passes without spend, so the same budget can cross again
 * later in the window; the first crossing claims a one-unit ledger key (`<scope>|fc`, limit 1, expiring with
 * the window) through the store's atomic reserve and commit, and only the instance whose claim is admitted
 * emits the event.
 *
 * @packageDocumentation
 */
import type { BudgetStore } from '../stores/types.js'
import { forecastWindow } from './forecast.js'

/** The decision for one commit: `null` when the projection did not cross the limit. */
export function projectedCrossing(args: {
  start: number
  end: number
  now: number
  before: number
  after: number
  reserved: number
  limitNano: number
}): { projectedNano: number; exhaustsAt: number | null } | null {
  const { start, end, now, before, after, reserved, limitNano } = args
  if (now >= end) return null
  const was = forecastWindow({ start, end, now, spentNano: before, reservedNano: 0, limitNano }).projectedNano
  const is = forecastWindow({ start, end, now, spentNano: after, reservedNano: reserved, limitNano })
  return was <= limitNano && is.projectedNano > limitNano ? is : null
}

/**
 * Claims the alert of one scope and window: true for the first caller across all instances, false for every
 * later one (until the key expires with the window).
 */
export async function claimOnce(
  store: BudgetStore,
  key: string,
  callId: string,
  now: number,
  expiresAt: number,
): Promise<boolean> {
  // One claim id per call and key: a call that takes several budgets over their projection claims each one.
  const claimId = `fc:${fingerprint(key)}:${callId.slice(0, 150)}`
  const held = await store.reserve({
    callId: claimId,
    now,
    holdExpiresAt: now + 60_000,
    entries: [{ key, amount: 1, limit: 1, expiresAt }],
  })
  if (!held.ok || held.duplicate) return false
  await store.commit({ callId: claimId, now, entries: [{ key, amount: 1, expiresAt }], dedupeUntil: now + 60_000 })
  return true
}

/** A short fingerprint of a key (FNV-1a, 2 x 32 bits, base 36): call ids stay short whatever the key. */
function fingerprint(text: string): string {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
  }
  return (a >>> 0).toString(36) + (b >>> 0).toString(36)
}
